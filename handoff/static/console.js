// Staff console: the queue and the open conversation refresh on WebSocket events; all customer text
// goes into the page with textContent, so it can never run as HTML.
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  const REASONS = { customer_request: "顾客要人工", video_request: "要视频看货", low_confidence: "机器人答不上",
                    bot_unavailable: "机器人故障", staff_takeover: "店员接管" };
  const ME = document.querySelector('meta[name="staff-name"]').content;
  const STATES = { bot: "机器人接待中", waiting: "等待店员", assigned: "店员接待中", resolved: "服务已结束，机器人继续接待" };
  const AUTHORS = { customer: "顾客", bot: "机器人", staff: "店员", system: "系统" };
  // What a tapped button sent, when the button itself is no longer in the transcript to name it.
  const PAYLOADS = { "/request_human": "转人工", "/request_video": "视频看实物", "/request_gift": "挑礼物",
                     "/greet": "你好", "/affirm": "好的", "/deny": "不用了", "/cancel": "取消" };
  let openId = null;
  let canned = [];
  const isOwner = document.getElementById("canned-form") !== null;

  // In-page notices instead of alert(): Chinese words for what went wrong, the server's text kept in the title.
  function notice(text, kind, detail) {
    const item = el("div", text, "notice " + (kind || "info"));
    if (detail) item.title = detail;
    $("notices").append(item);
    setTimeout(() => item.remove(), kind === "error" ? 8000 : 4000);
  }
  const PROBLEMS = { 400: "内容不对，请检查后再试", 403: "这个对话不在你手上，请先接入", 404: "找不到这个对话，可能已经结束",
                     409: "这个对话刚被别人处理了（已被接入或已结束）", 413: "内容太大了", 429: "操作太快了，请稍等再试" };
  function problem(err) {
    notice(PROBLEMS[err.status] || (err.status ? "没有成功，请再试一次" : "网络断了，请稍后再试"), "error", err.message);
  }
  function confirmInPage(text) {
    const dialog = $("confirm");
    $("confirm-text").textContent = text;
    dialog.returnValue = "";
    dialog.showModal();
    $("confirm-yes").focus();
    return new Promise((resolve) => dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes"), { once: true }));
  }
  // A button does its work once at a time: a double-click sends one request, not two.
  async function once(button, work) {
    if (button.disabled) return;
    button.disabled = true;
    try { await work(); } finally { button.disabled = false; }
  }
  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  }
  // Signed out on the server (logout elsewhere, account disabled, password changed): back to the sign-in page.
  function signIn() { location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search); }
  async function api(method, path, body) {
    const options = { method, headers: { "X-CSRF-Token": csrf } };
    if (body instanceof FormData) options.body = body;
    else if (body !== undefined) { options.body = JSON.stringify(body); options.headers["Content-Type"] = "application/json"; }
    const response = await fetch(path, options);
    if (response.status === 401) signIn();
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw Object.assign(new Error(data.error || String(response.status)), { status: response.status });
    return data;
  }
  const minutes = (s) => (s < 60 ? s + " 秒" : Math.floor(s / 60) + " 分钟");

  // A new handoff is announced: a short tone, the count in the tab title, a desktop notification.
  let known = null;  // the handoff ids seen so far (null before the first load: those are not "new")
  const TITLE = document.title;
  function chime() {
    try {
      const audio = new (window.AudioContext || window.webkitAudioContext)();
      const tone = audio.createOscillator(), gain = audio.createGain();
      tone.frequency.value = 880;
      gain.gain.setValueAtTime(0.15, audio.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.4);
      tone.connect(gain).connect(audio.destination);
      tone.start();
      tone.stop(audio.currentTime + 0.4);
      tone.onended = () => audio.close();
    } catch (err) { /* no sound on this browser: the title and the notification still say it */ }
  }
  function announce(handoffs) {
    const waiting = handoffs.filter((h) => !h.claimed_by);
    document.title = (waiting.length ? "(" + waiting.length + ") " : "") + TITLE;
    const fresh = known === null ? [] : waiting.filter((h) => !known.has(h.id));
    known = new Set(handoffs.map((h) => h.id));
    if (!fresh.length) return;
    chime();
    if ("Notification" in window && Notification.permission === "granted") {
      const first = fresh[0];
      new Notification("新的转人工 · " + (first.customer || "顾客"), { body: (REASONS[first.reason] || first.reason) + "\n" + (first.summary || ""), tag: "handoff-" + first.id });
    }
  }
  // Asked once, on the first click anywhere (browsers only ask from a user's gesture).
  document.addEventListener("click", () => {
    if ("Notification" in window && Notification.permission === "default" && !localStorage.getItem("techan-notify-asked")) {
      localStorage.setItem("techan-notify-asked", "1");
      Notification.requestPermission();
    }
  }, { once: true });

  async function loadQueue() {
    const data = await api("GET", "/api/handoffs");
    const queued = data.handoffs.filter((h) => !h.set_aside), setAside = data.handoffs.filter((h) => h.set_aside);
    announce(queued);
    $("queue-count").textContent = "（" + queued.length + "）";
    $("queue").replaceChildren(...queued.map(queueItem));
    $("set-aside").replaceChildren(...setAside.map(queueItem));
    $("set-aside-count").textContent = "（" + setAside.length + "）";
    $("set-aside-box").hidden = !setAside.length;
  }
  function queueItem(h) {
    const item = el("li");
    if (h.conversation_id === openId) item.classList.add("active");
    item.append(el("div", (h.customer || "顾客") + " · " + (REASONS[h.reason] || h.reason), "title"),
                el("div", h.summary, "summary"),
                el("div", (h.claimed_by ? "由 " + h.claimed_by + " 接待 · " : "等待 ") + minutes(h.wait_seconds), "meta"));
    if (!h.claimed_by) {
      const claim = el("button", "接入");
      claim.addEventListener("click", (event) => {
        event.stopPropagation();
        once(claim, async () => {
          await api("POST", "/api/handoffs/" + h.id + "/claim").then(() => notice("已接入", "ok")).catch(problem);
          await openConversation(h.conversation_id);
        });
      });
      item.append(claim);
    }
    item.addEventListener("click", () => openConversation(h.conversation_id));
    return item;
  }

  async function loadBotChats() {
    const data = await api("GET", "/api/conversations");
    const list = $("bot-chats");
    list.replaceChildren();
    for (const c of data.conversations.slice(0, 15)) {
      const item = el("li", c.customer + " · " + c.channel + " ");
      const take = el("button", "接管");
      take.addEventListener("click", async () => {
        await api("POST", "/api/conversations/" + c.id + "/takeover").catch(problem);
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
    const did = el("dd");  // what the bot did, in words (older cards have only the entries' ids)
    const steps = context.bot_did || context.kb_answers.map((k) => "用条目 " + k.id + " 回答");
    if (steps.length) { const list = el("ul", null, "bot-did"); list.append(...steps.map((s) => el("li", s))); did.append(list); }
    else did.textContent = "—";
    dl.append(el("dt", "机器人做了"), did);
    add("推荐过", context.products.map((p) => p.name + " ¥" + p.price).join("，") || "—");
    box.append(dl);
  }

  // A tapped button is shown by its title (from the message that offered it), not its payload.
  function buttonTitle(text, earlier) {
    for (let i = earlier.length - 1; i >= 0; i--) {
      const found = (earlier[i].buttons || []).find((b) => b.payload === text);
      if (found) return found.title;
    }
    return PAYLOADS[text.split("{")[0]] || null;
  }
  function productCard(p) {
    const card = el("div", null, "card");
    if (p.image) { const img = el("img"); img.src = p.image; img.alt = p.name; card.append(img); }
    card.append(el("strong", p.name), el("span", p.price !== undefined && p.price !== null ? Math.round(p.price * 100) / 100 + "元" : "", "price"));
    return card;
  }

  async function openConversation(id) {
    openId = id;
    const detail = await api("GET", "/api/conversations/" + id);
    const holder = detail.handoff && detail.handoff.claimed_by;
    const held = detail.state === "assigned" && holder === ME;
    $("chat-title").textContent = (detail.customer.name || "对话 #" + id) + " · " + (STATES[detail.state] || detail.state) +
      (detail.state === "assigned" && holder && !held ? "（由 " + holder + " 接待）" : "");
    const list = $("transcript");
    list.replaceChildren();
    detail.transcript.forEach((m, index) => {
      const item = el("li", null, m.direction + " " + m.author);
      const tapped = m.direction === "in" && m.text.startsWith("/") ? buttonTitle(m.text, detail.transcript.slice(0, index)) : null;
      item.append(el("span", (AUTHORS[m.author] || m.author) + (m.from ? " " + m.from : "") + " · " + shopTime(m.at), "who"));
      if (tapped) item.append(el("span", "👆 " + tapped, "tapped"));
      else if (m.text) item.append(el("span", ("edit_of" in m ? "(已编辑) " : "") + m.text));
      if ((m.products || []).length) {
        const cards = el("div", null, "cards");
        cards.append(...m.products.map(productCard));
        item.append(cards);
      }
      if ((m.buttons || []).length) item.append(el("span", "按钮：" + m.buttons.map((b) => b.title).join(" · "), "buttons"));
      if (m.image) { const img = el("img"); img.src = m.image; img.alt = "图片"; img.className = "sent"; item.append(img); }
      if (m.media && /^\/media\/[A-Za-z0-9_-]+\.[a-z0-9]+$/.test(m.media.url)) {
        const tag = { photo: "img", voice: "audio", audio: "audio", video: "video", video_note: "video" }[m.media.kind] || "a";
        const node = el(tag, tag === "a" ? "附件" : null, "sent");
        if (tag === "a") node.href = m.media.url; else { node.src = m.media.url; if (tag !== "img") node.controls = true; }
        item.append(node);
      }
      if (m.delivery_status === "failed") item.append(el("span", "⚠ 没有送达，请换个方式联系顾客", "failed"));
      else if (m.delivery_status === "limited") {
        const why = { media: "附件太大或超出今日额度，没有接收", new_customers: "同一网络新开的对话太多",
                      address: "同一网络发来的消息太多" }[m.limit] || "发得太快，超出频率限制";
        item.append(el("span", `⏸ ${why}：机器人没有回答`, "delivery"));
      }
      else if (m.direction === "out" && m.author !== "bot") {  // what the channel did with a staff or system message
        const shown = { pending: "… 发送中", sent: "✓ 已发出", delivered: "✓ 顾客已看到" }[m.delivery_status];
        if (shown) item.append(el("span", shown, "delivery"));
      }
      list.append(item);
    });
    const notes = $("notes");
    notes.replaceChildren(...detail.notes.map((n) => el("li", n.author + "：" + n.text)));
    list.lastElementChild && list.lastElementChild.scrollIntoView();
    $("reply").hidden = $("tools").hidden = !held;  // the tools only for a chat this staff member holds
    // An owner can take a chat a colleague holds (away, or disabled since): it is transferred to them.
    $("take-from").hidden = !(isOwner && detail.state === "assigned" && holder && !held);
    $("take-from").dataset.holder = holder || "";
    $("note").hidden = false;
    renderContext(detail);
    loadAssist(id, detail.transcript, held);
    loadQueue();
  }

  // Staff assist: the knowledge service's answers and the nearest products for the customer's last typed
  // question (fetched again only when that question changes), each put into the reply box with one click.
  let assisted = { conversation: null, question: null };
  let assistHeld = false;  // read after a fetch: the chat may have been claimed while it ran
  function insertReply(text) {
    const box = $("reply-text");
    box.value = box.value.trim() ? box.value.trimEnd() + "\n" + text : text;
    box.focus();
  }
  async function loadAssist(id, transcript, held) {
    const last = [...transcript].reverse().find((m) => m.direction === "in" && m.text && !m.text.startsWith("/") && !m.media);
    const question = last ? last.id : null;
    const box = $("assist");
    assistHeld = held;
    if (assisted.conversation !== id || assisted.question !== question) {
      assisted = { conversation: id, question };
      let data = { question: null }, failed = false;
      if (question !== null) data = await api("GET", "/api/conversations/" + id + "/assist").catch(() => { failed = true; return null; });
      if (openId !== id || assisted.conversation !== id || assisted.question !== question) return;  // another chat or question meanwhile
      box.replaceChildren();
      if (failed) {  // tried again when the chat is next shown
        assisted = { conversation: null, question: null };
        box.append(el("p", "暂时取不到建议，稍后会再试。", "hint"));
        return;
      }
      if (!data.question) { box.append(el("p", "顾客还没有问问题。", "hint")); return; }
      box.append(el("p", "顾客问：「" + data.question.text + "」", "asked"));
      const list = el("ol", null, "suggestions");
      for (const s of data.suggestions) {
        const item = el("li");
        item.append(el("span", s.bot_answer ? "推荐回答" : "知识库", "badge" + (s.bot_answer ? " bot" : "")),
                    el("strong", s.title), el("p", s.text, "text"));
        const insert = el("button", "插入", "insert");
        insert.type = "button";
        insert.addEventListener("click", () => insertReply(s.text));
        item.append(insert);
        list.append(item);
      }
      if (!data.suggestions.length) list.append(el("li", "知识库里没有相近的回答。", "hint"));
      const products = el("div", null, "cards");
      for (const p of data.products) {
        const card = productCard(p);
        const row = el("div", null, "row");
        const insert = el("button", "插入介绍", "insert"), push = el("button", "发卡片", "insert quiet");
        insert.type = push.type = "button";
        insert.addEventListener("click", () => insertReply(p.text));
        push.addEventListener("click", () => once(push, () => pushProduct(p)));
        row.append(insert, push);
        card.append(row);
        products.append(card);
      }
      box.append(list, el("h3", "相关商品"), products);
    }
    box.querySelectorAll("button.insert").forEach((b) => { b.hidden = !assistHeld; });
  }
  async function pushProduct(product) {
    const id = openId;
    if (id === null) return false;
    return api("POST", "/api/conversations/" + id + "/products", { product: product.id })
      .then(() => { notice("已发给顾客：" + product.name, "ok"); return true; })
      .catch((err) => { problem(err); return false; });
  }

  $("reply").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("reply-text").value.trim();
    const file = $("reply-image").files[0];
    if ((!text && !file) || openId === null) return;
    let body = { text };
    if (file) { body = new FormData(); body.append("text", text); body.append("image", file); }
    await api("POST", "/api/conversations/" + openId + "/messages", body)
      .then(() => { $("reply-text").value = ""; $("reply-image").value = ""; }).catch(problem);
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
  // A product card, found by name, can go into the chat at any time (not only during a call).
  let offered = [];
  $("product-name").addEventListener("input", async () => {
    const data = await api("GET", "/api/products?q=" + encodeURIComponent($("product-name").value.trim())).catch(() => null);
    if (!data) return;
    offered = data.products;
    $("product-options").replaceChildren(...offered.map((p) => {
      const option = el("option"); option.value = p.name; option.label = p.price + "元" + (p.stock ? "" : " · 缺货"); return option;
    }));
  });
  $("push-product").addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = $("product-name").value.trim();
    const product = offered.find((p) => p.name === name) || (offered.length === 1 ? offered[0] : null);
    if (!product || openId === null) { notice("请从列表里选一个商品", "error"); return; }
    if (await pushProduct(product)) $("product-name").value = "";
  });
  $("take-from").addEventListener("click", async () => {
    const holder = $("take-from").dataset.holder, id = openId;
    if (id === null || !(await confirmInPage("从 " + holder + " 手里接过这个对话？之后由您回复顾客。"))) return;
    await api("POST", "/api/conversations/" + id + "/transfer", { to: ME })
      .then(() => notice("已接手，现在由您接待", "ok")).catch(problem);
    await openConversation(id);
  });
  $("transfer-to").addEventListener("change", async () => {
    const to = $("transfer-to").value;
    $("transfer-to").value = "";
    if (!to || openId === null || !(await confirmInPage("把这个对话转给 " + to + "？"))) return;
    await api("POST", "/api/conversations/" + openId + "/transfer", { to }).catch(problem);
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
        problem(err);
      }
    });
  }
  $("note").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("note-text").value.trim();
    if (!text || openId === null) return;
    await api("POST", "/api/conversations/" + openId + "/notes", { text })
      .then(() => { $("note-text").value = ""; }).catch(problem);
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
        await api("DELETE", "/api/canned/" + c.id).catch(problem);
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
        .then(() => { $("canned-shortcut").value = ""; $("canned-text").value = ""; }).catch(problem);
      loadCanned();
    });
  }
  $("reply-text").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); $("reply").requestSubmit(); }
  });
  $("resolve").addEventListener("click", () => once($("resolve"), async () => {
    if (openId === null || !(await confirmInPage("结束这次服务？顾客会收到评分邀请，之后由机器人继续接待。"))) return;
    const id = openId;
    await api("POST", "/api/conversations/" + id + "/resolve").then(() => notice("服务已结束", "ok")).catch(problem);
    openConversation(id);
  }));

  // The shop's processes as /healthz reports them under `techan run`: a restart is shown to staff, so
  // a quiet bot is explained ("messages are kept and answered when it is back") rather than a mystery.
  const PROCESS_NAMES = { rasa: "智能助手", app: "服务程序" };
  function exitReason(text) {
    const match = /code (-?\d+)(?: \((\w+)\))?/.exec(text || "");
    if (!match) return text || "";
    return match[2] ? "被 " + match[2] + " 信号结束" : "退出码 " + match[1];
  }
  const clock = (iso) => (iso ? shopTime(iso) : "");
  let dismissedRestarts = sessionStorage.getItem("techan-dismissed-restarts") || "";
  function restartKey(processes) {
    return Object.keys(processes).sort().map((name) => name + ":" + processes[name].restarts).join(",");
  }
  async function checkSystem() {
    let health;
    try {
      const response = await fetch("/healthz", { cache: "no-store" });
      health = await response.json();
    } catch (err) {
      health = { rasa: false, processes: { app: { state: "restarting", restarts: 0 } } };
    }
    const processes = health.processes || {};
    const down = Object.entries(processes).filter(([, p]) => p.state !== "up").map(([name, p]) =>
      PROCESS_NAMES[name] + (p.state === "restarting" || p.restarts > 0 ? "正在重启" : "正在启动") + (p.last_exit ? "（" + exitReason(p.last_exit) + "）" : ""));
    if (!down.length && health.rasa === false) down.push("智能助手暂时连不上");
    const restarted = Object.entries(processes).filter(([, p]) => p.state === "up" && p.restarts > 0);
    const box = $("system");
    if (down.length) {
      $("system-text").textContent = "⚠ " + down.join("；") + " · 顾客的消息都已保存，恢复后自动回复";
      box.className = "system down";
      box.title = "";
      box.hidden = false;
      $("system-dismiss").hidden = true;
    } else if (restarted.length && restartKey(processes) !== dismissedRestarts) {
      $("system-text").textContent = restarted.map(([name, p]) => PROCESS_NAMES[name] + " " + clock(p.last_exit_at)).join("、") +
        " 意外退出，已自动恢复";
      box.title = restarted.map(([name, p]) => PROCESS_NAMES[name] + "：" + exitReason(p.last_exit) + "，共重启 " + p.restarts + " 次").join("\n");
      box.className = "system";
      box.hidden = false;
      $("system-dismiss").hidden = false;
      box.dataset.key = restartKey(processes);
    } else {
      box.hidden = true;
    }
  }
  $("system-dismiss").addEventListener("click", () => {
    dismissedRestarts = $("system").dataset.key || "";
    sessionStorage.setItem("techan-dismissed-restarts", dismissedRestarts);
    $("system").hidden = true;
  });

  function connect() {
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/staff");
    ws.onopen = () => { $("live").textContent = "● 实时"; checkSystem(); };
    ws.onclose = (event) => {
      if (event.code === 4401) return signIn();  // web.auth.SIGNED_OUT
      $("live").textContent = "○ 重新连接…";
      api("GET", "/api/handoffs").catch(() => {});  // a refused handshake says nothing: still signed in?
      setTimeout(connect, 2000);
    };
    ws.onmessage = (event) => {
      const data = JSON.parse(event.data);
      if (data.type === "queue" || data.type === "hello") { loadQueue(); loadBotChats(); }
      if (data.conversation_id === openId) openConversation(openId);
    };
  }
  // Back after signing out shows this page from the browser's memory: ask the server again (it sends a
  // signed-out browser to the sign-in page) rather than show customers' words from before.
  window.addEventListener("pageshow", (event) => { if (event.persisted) location.reload(); });
  loadQueue();
  loadBotChats();
  loadCanned();
  loadStaff();
  connect();
  checkSystem();
  setInterval(checkSystem, 10000);
})();
