// Owner knowledge-base page. Everything goes through /api/kb/* with the session's CSRF token;
// all customer and owner text is inserted with textContent, never as HTML.
(function () {
  "use strict";
  const { $, el, toast, api, showHistory } = window.owner;
  // Topics in Chinese and products by name, as the page's lists name them (the API keeps the keys and ids).
  const named = (list, value) => {
    const option = [...$(list).options].find((o) => o.value === value);
    return option ? option.textContent : value;
  };
  const topicName = (topic) => named("e-topic", topic);
  let current = null; // entry id in the editor, or null for a new entry
  let pendingInbox = null; // inbox question ids that the entry being edited should resolve
  const REASONS = {
    unsure: t("机器人没把握"), not_helpful: t("顾客点了“没用”"), customer_request: t("顾客要找店员"),
    video_request: t("顾客要视频看货"), low_confidence: t("两次没答上，转店员"), bot_unavailable: t("机器人不可用，转店员"),
    staff_takeover: t("店员接手"),
  };

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
                  el("div", t("匹配问法：{text}", { text: hit.matched })), el("div", hit.answer));
      item.querySelector("button").addEventListener("click", () => openEntry(hit.id));
      list.append(item);
    }
  }

  async function loadEntries(event) {
    if (event) event.preventDefault();
    const params = new URLSearchParams({ q: $("f-q").value, topic: $("f-topic").value, product: $("f-product").value });
    const data = await api("GET", "/api/kb/entries?" + params).catch(report);
    if (!data) return;
    $("count").textContent = t("（{n}）", { n: data.entries.length });
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
    $("e-title").textContent = current ? current : t("（新条目）");
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
    const fields = (entry) => [[t("问法"), (entry.questions || []).join("\n")], [t("答案"), entry.answer || ""],
                               [t("英文回答"), entry.answer_en || ""], [t("主题"), topicName(entry.topic)]];
    const summary = (after) => [t("答案：{answer}", { answer: after.answer })]
      .concat(after.answer_en ? [t("英文回答：{answer}", { answer: after.answer_en })] : []);
    showHistory($("history"), data.revisions, data.entry, { fields, summary, restore: (revision) =>
      api("POST", "/api/kb/entries/" + encodeURIComponent(id) + "/rollback", { revision })
        .then(() => { toast(t("已恢复到第 {n} 版，立即生效", { n: revision })); openEntry(id); loadEntries(); })
        .catch(report) });
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
    toast(t("已保存，机器人立即使用新答案（编号 {id}）", { id: savedId }));
    current = savedId;
    openEntry(savedId);
    loadEntries();
  }

  async function deleteEntry() {
    if (!current || !confirm(t("删除条目 {id}？可以在历史版本里恢复。", { id: current }))) return;
    await api("DELETE", "/api/kb/entries/" + encodeURIComponent(current)).catch(report);
    toast(t("已删除"));
    $("editor").hidden = true;
    current = null;
    loadEntries();
  }

  async function loadInbox() {
    const data = await api("GET", "/api/kb/unanswered").catch(report);
    if (!data) return;
    const list = $("inbox");
    list.replaceChildren();
    if (!data.groups.length) list.append(el("li", t("没有待解答的问题 🎉"), "empty"));
    for (const group of data.groups) {
      const item = el("li");
      item.append(el("strong", "×" + group.count + " "), el("span", group.texts.slice(0, 3).join(" / ")));
      for (const reason of group.reasons) item.append(el("span", REASONS[reason] || reason, "reason reason-" + reason));
      const make = el("button", t("建新条目"), "link");
      make.addEventListener("click", () => {
        current = null;
        pendingInbox = group.ids;
        fillEditor({ id: "", topic: "other", questions: Array.from(new Set(group.texts)) });
        $("history").replaceChildren();
      });
      item.append(make);
      if (group.suggestion) {
        const add = el("button", t("加为 {id} 的问法 ({score})", { id: group.suggestion.id, score: group.suggestion.score }), "link");
        add.addEventListener("click", () => addAsPhrasings(group, group.suggestion.id));
        item.append(add);
      }
      // What the bot answered, where it did (a 没用, or a person asked for after an answer).
      const answers = Array.from(new Set((group.items || []).map((i) => i.answer).filter(Boolean))).slice(0, 2);
      for (const answer of answers) item.append(el("div", t("机器人的回答：{answer}", { answer }), "inbox-answer"));
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
      .then(() => { toast(t("已加入 {id}", { id })); loadInbox(); loadEntries(); }).catch(report);
  }

  async function importFile(event) {
    event.preventDefault();
    const form = new FormData();
    form.append("file", $("import-file").files[0]);
    const data = await api("POST", "/api/kb/import", form, true).catch(report);
    if (data) { toast(t("导入完成：新增 {created}，更新 {updated}", { created: data.created, updated: data.updated })); loadEntries(); }
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
