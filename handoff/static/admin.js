// Owner knowledge-base page. Everything goes through /api/kb/* with the session's CSRF token;
// all customer and owner text is inserted with textContent, never as HTML.
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  // Topics in Chinese and products by name, as the page's lists name them (the API keeps the keys and ids).
  const named = (list, value) => {
    const option = [...$(list).options].find((o) => o.value === value);
    return option ? option.textContent : value;
  };
  const topicName = (topic) => named("e-topic", topic);
  let current = null; // entry id in the editor, or null for a new entry
  let pendingInbox = null; // inbox question ids that the entry being edited should resolve
  const REASONS = {
    unsure: "机器人没把握", not_helpful: "顾客点了“没用”", customer_request: "顾客要找店员",
    video_request: "顾客要视频看货", low_confidence: "两次没答上，转店员", bot_unavailable: "机器人不可用，转店员",
    staff_takeover: "店员接手",
  };

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  }
  function toast(message) {
    const box = $("toast");
    box.textContent = message;
    box.classList.add("show");
    setTimeout(() => box.classList.remove("show"), 2500);
  }
  async function api(method, path, body, isForm) {
    const options = { method, headers: { "X-CSRF-Token": csrf } };
    if (body !== undefined) {
      if (isForm) options.body = body;
      else { options.body = JSON.stringify(body); options.headers["Content-Type"] = "application/json"; }
    }
    const response = await fetch(path, options);
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.error || "请求失败 (" + response.status + ")");
    return data;
  }
  const report = (err) => toast(err.message);

  async function tryQuestion(event) {
    event.preventDefault();
    const list = $("try-hits");
    list.replaceChildren();
    const data = await api("POST", "/api/kb/search", { q: $("try-q").value, k: 5 }).catch(report);
    if (!data) return;
    for (const hit of data.hits) {
      const item = el("li");
      item.append(el("span", hit.score.toFixed(3) + " ", "score"), el("button", hit.id, "link"),
                  el("div", "匹配问法：" + hit.matched), el("div", hit.answer));
      item.querySelector("button").addEventListener("click", () => openEntry(hit.id));
      list.append(item);
    }
  }

  async function loadEntries(event) {
    if (event) event.preventDefault();
    const params = new URLSearchParams({ q: $("f-q").value, topic: $("f-topic").value, product: $("f-product").value });
    const data = await api("GET", "/api/kb/entries?" + params).catch(report);
    if (!data) return;
    $("count").textContent = "（" + data.entries.length + "）";
    const body = $("entries").querySelector("tbody");
    body.replaceChildren();
    for (const entry of data.entries) {
      const row = el("tr", null, entry.id === current ? "active" : "");
      row.dataset.entry = entry.id;
      row.append(el("td", entry.id), el("td", topicName(entry.topic)), el("td", entry.product ? named("e-product", entry.product) : "—"),
                 el("td", entry.questions[0] + (entry.questions.length > 1 ? " …(" + entry.questions.length + ")" : "")),
                 el("td", "r" + entry.revision));
      row.addEventListener("click", () => openEntry(entry.id));
      body.append(row);
    }
  }

  function fillEditor(entry) {
    $("editor").hidden = false;
    $("e-id").value = entry.id || "";
    $("e-id").readOnly = Boolean(current);
    $("e-topic").value = entry.topic || "other";
    $("e-product").value = entry.product || "";
    $("e-questions").value = (entry.questions || []).join("\n");
    $("e-answer").value = entry.answer || "";
    $("e-answer-en").value = entry.answer_en || "";
    $("e-tags").value = (entry.tags || []).join(", ");
    $("e-title").textContent = current ? current : "（新条目）";
    $("e-delete").hidden = !current;
    for (const row of document.querySelectorAll("#entries tbody tr")) row.classList.toggle("active", row.dataset.entry === current);
    $("editor").scrollTop = 0;
    (current ? $("e-questions") : $("e-id")).focus({ preventScroll: true });
    if (window.matchMedia("(max-width: 900px)").matches) $("editor").scrollIntoView({ behavior: "smooth" });  // below the list there
  }

  async function openEntry(id) {
    const data = await api("GET", "/api/kb/entries/" + encodeURIComponent(id)).catch(report);
    if (!data) return;
    current = data.entry ? id : null;
    pendingInbox = null;
    fillEditor(data.entry || { id: id });
    const history = $("history");
    history.replaceChildren();
    const now = data.entry;
    for (const change of data.revisions.slice().reverse()) {
      const item = el("li", "第 " + change.revision + " 版 · " + (ACTIONS[change.action] || change.action) + " · " +
                      change.author + " · " + shopTime(change.at) + " ");
      if (change.after) {
        const button = el("button", "恢复到这一版", "link");
        button.addEventListener("click", async () => {
          if (!(await confirmRollback(now, change))) return;
          await api("POST", "/api/kb/entries/" + encodeURIComponent(id) + "/rollback", { revision: change.revision })
            .then(() => { toast("已恢复到第 " + change.revision + " 版，立即生效"); openEntry(id); loadEntries(); })
            .catch(report);
        });
        item.append(button);
        item.append(el("div", "答案：" + change.after.answer, "rev-text"));
        if (change.after.answer_en) item.append(el("div", "英文回答 English：" + change.after.answer_en, "rev-text"));
      }
      history.append(item);
    }
  }

  const ACTIONS = { create: "新建", update: "修改", delete: "删除", rollback: "恢复", import: "导入" };
  // Before a rollback: the entry now and the chosen revision side by side, lines that differ marked.
  function confirmRollback(now, change) {
    const fields = (entry) => entry ? [["问法", (entry.questions || []).join("\n")], ["答案", entry.answer || ""],
                                       ["英文回答", entry.answer_en || ""], ["主题", topicName(entry.topic)]] : [];
    const side = (box, mine, other) => {
      box.replaceChildren();
      const theirs = Object.fromEntries(fields(other));
      for (const [label, value] of fields(mine)) {
        box.append(el("div", label, "diff-label"), el("div", value || "—", value === theirs[label] ? "diff-same" : "diff-changed"));
      }
      if (!mine) box.append(el("div", "（已删除）", "diff-changed"));
    };
    side($("diff-now"), now, change.after);
    side($("diff-then"), change.after, now);
    $("rollback-title").textContent = "恢复到第 " + change.revision + " 版？";
    $("diff-then-title").textContent = "第 " + change.revision + " 版 · " + shopTime(change.at);
    const dialog = $("rollback");
    dialog.returnValue = "";
    dialog.showModal();
    return new Promise((resolve) => dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes"), { once: true }));
  }

  async function saveEntry(event) {
    event.preventDefault();
    const id = $("e-id").value.trim();
    const entry = {
      topic: $("e-topic").value, product: $("e-product").value,
      questions: $("e-questions").value.split("\n").map((q) => q.trim()).filter(Boolean),
      answer: $("e-answer").value.trim(),
      answer_en: $("e-answer-en").value.trim(),
      tags: $("e-tags").value.split(/[,，]/).map((t) => t.trim()).filter(Boolean),
    };
    // A new entry without an id gets a readable one from the shop (its product and topic).
    const saved = await (id ? api("PUT", "/api/kb/entries/" + encodeURIComponent(id), entry)
                            : api("POST", "/api/kb/entries", entry)).catch(report);
    if (!saved) return;
    const savedId = saved.entry.id;
    if (pendingInbox) {
      await api("POST", "/api/kb/unanswered/resolve", { ids: pendingInbox, entry_id: savedId }).catch(report);
      pendingInbox = null;
      loadInbox();
    }
    toast("已保存，机器人立即使用新答案（编号 " + savedId + "）");
    current = savedId;
    openEntry(savedId);
    loadEntries();
  }

  async function deleteEntry() {
    if (!current || !confirm("删除条目 " + current + "？可以在历史版本里恢复。")) return;
    await api("DELETE", "/api/kb/entries/" + encodeURIComponent(current)).catch(report);
    toast("已删除");
    $("editor").hidden = true;
    current = null;
    loadEntries();
  }

  async function loadInbox() {
    const data = await api("GET", "/api/kb/unanswered").catch(report);
    if (!data) return;
    const list = $("inbox");
    list.replaceChildren();
    if (!data.groups.length) list.append(el("li", "没有待解答的问题 🎉"));
    for (const group of data.groups) {
      const item = el("li");
      item.append(el("strong", "×" + group.count + " "), el("span", group.texts.slice(0, 3).join(" / ")));
      for (const reason of group.reasons) item.append(el("span", REASONS[reason] || reason, "reason reason-" + reason));
      const make = el("button", "建新条目", "link");
      make.addEventListener("click", () => {
        current = null;
        pendingInbox = group.ids;
        fillEditor({ id: "", topic: "other", questions: Array.from(new Set(group.texts)) });
        $("history").replaceChildren();
      });
      item.append(make);
      if (group.suggestion) {
        const add = el("button", "加为 " + group.suggestion.id + " 的问法 (" + group.suggestion.score + ")", "link");
        add.addEventListener("click", () => addAsPhrasings(group, group.suggestion.id));
        item.append(add);
      }
      // What the bot answered, where it did (a 没用, or a person asked for after an answer).
      const answers = Array.from(new Set((group.items || []).map((i) => i.answer).filter(Boolean))).slice(0, 2);
      for (const answer of answers) item.append(el("div", "机器人的回答：" + answer, "inbox-answer"));
      list.append(item);
    }
  }

  async function addAsPhrasings(group, id) {
    const data = await api("GET", "/api/kb/entries/" + encodeURIComponent(id)).catch(report);
    if (!data || !data.entry) return;
    const entry = data.entry;
    const questions = Array.from(new Set(entry.questions.concat(group.texts)));
    await api("PUT", "/api/kb/entries/" + encodeURIComponent(id),
              { topic: entry.topic, product: entry.product, questions, answer: entry.answer,
                answer_en: entry.answer_en || "", tags: entry.tags })
      .then(() => api("POST", "/api/kb/unanswered/resolve", { ids: group.ids, entry_id: id }))
      .then(() => { toast("已加入 " + id); loadInbox(); loadEntries(); }).catch(report);
  }

  async function importFile(event) {
    event.preventDefault();
    const form = new FormData();
    form.append("file", $("import-file").files[0]);
    const data = await api("POST", "/api/kb/import", form, true).catch(report);
    if (data) { toast("导入完成：新增 " + data.created + "，更新 " + data.updated); loadEntries(); }
  }

  $("try-form").addEventListener("submit", tryQuestion);
  $("filter").addEventListener("submit", loadEntries);
  $("entry-form").addEventListener("submit", saveEntry);
  $("e-delete").addEventListener("click", deleteEntry);
  $("e-close").addEventListener("click", () => {
    $("editor").hidden = true;
    current = null;
    for (const row of document.querySelectorAll("#entries tr.active")) row.classList.remove("active");
  });
  $("new-entry").addEventListener("click", () => { current = null; pendingInbox = null; fillEditor({}); $("history").replaceChildren(); });
  $("inbox-refresh").addEventListener("click", loadInbox);
  $("import-form").addEventListener("submit", importFile);
  loadEntries();
  loadInbox();
})();
