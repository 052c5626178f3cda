// Staff console: the queue and the open conversation refresh on WebSocket events; all customer text
// goes into the page with textContent, so it can never run as HTML.
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  const REASONS = { customer_request: "顾客要人工", video_request: "要视频看货", low_confidence: "机器人答不上",
                    bot_unavailable: "机器人故障", staff_takeover: "店员接管" };
  let openId = null;
  let canned = [];
  const isOwner = document.getElementById("canned-form") !== null;

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  }
  async function api(method, path, body) {
    const options = { method, headers: { "X-CSRF-Token": csrf } };
    if (body instanceof FormData) options.body = body;
    else if (body !== undefined) { options.body = JSON.stringify(body); options.headers["Content-Type"] = "application/json"; }
    const response = await fetch(path, options);
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.error || String(response.status));
    return data;
  }
  const minutes = (s) => (s < 60 ? s + " 秒" : Math.floor(s / 60) + " 分钟");

  async function loadQueue() {
    const data = await api("GET", "/api/handoffs");
    const list = $("queue");
    list.replaceChildren();
    $("queue-count").textContent = "（" + data.handoffs.length + "）";
    for (const h of data.handoffs) {
      const item = el("li");
      if (h.conversation_id === openId) item.classList.add("active");
      item.append(el("div", (h.customer || "顾客") + " · " + (REASONS[h.reason] || h.reason), "title"),
                  el("div", h.summary, "summary"),
                  el("div", (h.claimed_by ? "由 " + h.claimed_by + " 接待 · " : "等待 ") + minutes(h.wait_seconds), "meta"));
      if (!h.claimed_by) {
        const claim = el("button", "接入");
        claim.addEventListener("click", async (event) => {
          event.stopPropagation();
          await api("POST", "/api/handoffs/" + h.id + "/claim").catch((err) => alert(err.message));
          openConversation(h.conversation_id);
        });
        item.append(claim);
      }
      item.addEventListener("click", () => openConversation(h.conversation_id));
      list.append(item);
    }
  }

  async function loadBotChats() {
    const data = await api("GET", "/api/conversations");
    const list = $("bot-chats");
    list.replaceChildren();
    for (const c of data.conversations.slice(0, 15)) {
      const item = el("li", c.customer + " · " + c.channel + " ");
      const take = el("button", "接管");
      take.addEventListener("click", async () => {
        await api("POST", "/api/conversations/" + c.id + "/takeover").catch((err) => alert(err.message));
        openConversation(c.id);
      });
      item.append(take);
      list.append(item);
    }
  }

  function renderContext(detail) {
    const box = $("context");
    box.replaceChildren();
    const context = detail.handoff ? detail.handoff.context : null;
    if (!context) { box.append(el("p", "没有进行中的转人工。", "hint")); return; }
    const dl = el("dl");
    const add = (k, v) => { dl.append(el("dt", k), el("dd", v)); };
    add("原因", REASONS[context.reason] || context.reason);
    add("摘要", context.summary || "—");
    add("顾客", (context.customer.name || "—") + " · " + context.customer.channel + " · " + context.customer.language);
    add("以前的对话", String(context.customer.earlier_conversations));
    add("已回答", context.kb_answers.map((k) => k.id + " (" + k.score + ")").join("，") || "—");
    add("推荐过", context.products.map((p) => p.name + " ¥" + p.price).join("，") || "—");
    box.append(dl);
  }

  async function openConversation(id) {
    openId = id;
    const detail = await api("GET", "/api/conversations/" + id);
    $("chat-title").textContent = "对话 #" + id + " · " + detail.state;
    const list = $("transcript");
    list.replaceChildren();
    for (const m of detail.transcript) {
      const item = el("li", null, m.direction);
      item.append(el("span", m.author + " · " + m.at.slice(11, 16), "who"), el("span", m.text));
      if (m.image) { const img = el("img"); img.src = m.image; img.alt = "图片"; img.className = "sent"; item.append(img); }
      if (m.media && /^\/media\/[A-Za-z0-9_-]+\.[a-z0-9]+$/.test(m.media.url)) {
        const tag = { photo: "img", voice: "audio", audio: "audio", video: "video", video_note: "video" }[m.media.kind] || "a";
        const node = el(tag, tag === "a" ? "附件" : null, "sent");
        if (tag === "a") node.href = m.media.url; else { node.src = m.media.url; if (tag !== "img") node.controls = true; }
        item.append(node);
      }
      if (m.delivery_status === "failed") item.append(el("span", "⚠ 没有送达，请换个方式联系顾客", "failed"));
      else if (m.direction === "out" && m.author !== "bot") {  // what the channel did with a staff or system message
        const shown = { pending: "… 发送中", sent: "✓ 已发出", delivered: "✓ 顾客已看到" }[m.delivery_status];
        if (shown) item.append(el("span", shown, "delivery"));
      }
      list.append(item);
    }
    const notes = $("notes");
    notes.replaceChildren(...detail.notes.map((n) => el("li", n.author + "：" + n.text)));
    list.lastElementChild && list.lastElementChild.scrollIntoView();
    $("reply").hidden = $("tools").hidden = detail.state !== "assigned";
    $("note").hidden = false;
    renderContext(detail);
    loadQueue();
  }

  $("reply").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("reply-text").value.trim();
    const file = $("reply-image").files[0];
    if ((!text && !file) || openId === null) return;
    let body = { text };
    if (file) { body = new FormData(); body.append("text", text); body.append("image", file); }
    await api("POST", "/api/conversations/" + openId + "/messages", body)
      .then(() => { $("reply-text").value = ""; $("reply-image").value = ""; }).catch((err) => alert(err.message));
  });
  $("reply-image").addEventListener("change", () => { if ($("reply-image").files.length) $("reply").requestSubmit(); });
  // "/hi" followed by a space or Tab becomes the canned reply with that shortcut.
  $("reply-text").addEventListener("input", () => {
    const box = $("reply-text");
    const match = box.value.match(/(^|\s)\/([a-z0-9_-]{1,32})[ \t]$/);
    const found = match && canned.find((c) => c.shortcut === match[2]);
    if (found) box.value = box.value.slice(0, box.value.length - match[2].length - 2) + found.text;
  });
  $("canned-pick").addEventListener("change", () => {
    const found = canned.find((c) => String(c.id) === $("canned-pick").value);
    if (found) $("reply-text").value += found.text;
    $("canned-pick").value = "";
    $("reply-text").focus();
  });
  $("transfer-to").addEventListener("change", async () => {
    const to = $("transfer-to").value;
    $("transfer-to").value = "";
    if (!to || openId === null || !confirm("把这个对话转给 " + to + "？")) return;
    await api("POST", "/api/conversations/" + openId + "/transfer", { to }).catch((err) => alert(err.message));
    openConversation(openId);
  });
  // Calls open in their own tab: the picture on the left, this chat's context on the right.
  for (const [id, kind] of [["call-video", "video"], ["call-voice", "voice"]]) {
    $(id).addEventListener("click", async () => {
      if (openId === null) return;
      const tab = window.open("about:blank", "_blank");
      try {
        const call = await api("POST", "/api/conversations/" + openId + "/calls", { kind });
        if (tab) tab.location = call.staff_url; else location.href = call.staff_url;
      } catch (err) {
        if (tab) tab.close();
        alert(err.message);
      }
    });
  }
  $("note").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("note-text").value.trim();
    if (!text || openId === null) return;
    await api("POST", "/api/conversations/" + openId + "/notes", { text })
      .then(() => { $("note-text").value = ""; }).catch((err) => alert(err.message));
    openConversation(openId);
  });

  async function loadCanned() {
    canned = (await api("GET", "/api/canned")).canned;
    const pick = $("canned-pick");
    pick.replaceChildren(pick.firstElementChild);
    for (const c of canned) { const o = el("option", "/" + c.shortcut + " " + c.text.slice(0, 30)); o.value = c.id; pick.append(o); }
    if (!isOwner) return;
    const list = $("canned-list");
    list.replaceChildren();
    for (const c of canned) {
      const item = el("li", "/" + c.shortcut + "：" + c.text);
      const remove = el("button", "删除");
      remove.type = "button";
      remove.addEventListener("click", async () => {
        await api("DELETE", "/api/canned/" + c.id).catch((err) => alert(err.message));
        loadCanned();
      });
      item.append(remove);
      list.append(item);
    }
  }
  async function loadStaff() {
    const pick = $("transfer-to");
    pick.replaceChildren(pick.firstElementChild);
    for (const s of (await api("GET", "/api/staff")).staff) { const o = el("option", s.name); o.value = s.name; pick.append(o); }
  }
  if (isOwner) {
    $("canned-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      await api("POST", "/api/canned", { shortcut: $("canned-shortcut").value.trim(), text: $("canned-text").value })
        .then(() => { $("canned-shortcut").value = ""; $("canned-text").value = ""; }).catch((err) => alert(err.message));
      loadCanned();
    });
  }
  $("reply-text").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); $("reply").requestSubmit(); }
  });
  $("resolve").addEventListener("click", async () => {
    if (openId === null) return;
    await api("POST", "/api/conversations/" + openId + "/resolve").catch((err) => alert(err.message));
    openConversation(openId);
  });

  function connect() {
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/staff");
    ws.onopen = () => { $("live").textContent = "● 实时"; };
    ws.onclose = () => { $("live").textContent = "○ 重新连接…"; setTimeout(connect, 2000); };
    ws.onmessage = (event) => {
      const data = JSON.parse(event.data);
      if (data.type === "queue" || data.type === "hello") { loadQueue(); loadBotChats(); }
      if (data.conversation_id === openId) openConversation(openId);
    };
  }
  loadQueue();
  loadBotChats();
  loadCanned();
  loadStaff();
  connect();
})();
