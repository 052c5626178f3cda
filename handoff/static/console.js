// Staff console: the queue and the open conversation refresh on WebSocket events; all customer text
// goes into the page with textContent, so it can never run as HTML.
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  const REASONS = Object.fromEntries(Object.entries(JSON.parse($("reasons").textContent)).map(([code, label]) => [code, t(label)]));
  const ME = document.querySelector('meta[name="staff-name"]').content;
  const STATES = { bot: t("机器人接待中"), waiting: t("等待店员"), assigned: t("店员接待中"),
                   resolved: t("服务已结束，机器人继续接待") };
  const AUTHORS = { customer: t("顾客"), bot: t("机器人"), staff: t("店员"), system: t("系统") };
  // What a tapped button sent, when the button itself is no longer in the transcript to name it.
  const PAYLOADS = { "/request_human": t("转人工"), "/request_video": t("视频看实物"), "/request_gift": t("挑礼物"),
                     "/greet": t("你好"), "/affirm": t("好的"), "/deny": t("不用了"), "/cancel": t("取消") };
  let openId = null;
  let canned = [];
  const isOwner = document.getElementById("canned-form") !== null;

  // In-page notices instead of alert(): the page's words for what went wrong, the server's text kept in the title.
  function notice(text, kind, detail) {
    const item = el("div", text, "notice " + (kind || "info"));
    if (detail) item.title = detail;
    $("notices").append(item);
    setTimeout(() => item.remove(), kind === "error" ? 8000 : 4000);
  }
  const PROBLEMS = { 400: t("内容不对，请检查后再试"), 403: t("这个对话不在你手上，请先接入"),
                     404: t("找不到这个对话，可能已经结束"), 409: t("这个对话刚被别人处理了（已被接入或已结束）"),
                     413: t("内容太大了"), 429: t("操作太快了，请稍等再试") };
  function problem(err) {
    notice(PROBLEMS[err.status] || (err.status ? t("没有成功，请再试一次") : t("网络断了，请稍后再试")), "error", err.message);
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
  const minutes = (s) => (s < 60 ? t("{n} 秒", { n: s }) : t("{n} 分钟", { n: Math.floor(s / 60) }));
  // The card's summary in the page's words, from its questions (a card from before they were kept has only
  // the Chinese summary).
  const summaryText = (card) => (card.questions ? (card.questions.length ?
    t("顾客问了：{questions}", { questions: card.questions.join(t("；")) }) : "") : card.summary || "");

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
      new Notification(t("新的转人工") + " · " + (first.customer || t("顾客")), { body: (REASONS[first.reason] || first.reason) + "\n" + summaryText(first), tag: "handoff-" + first.id });
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
    $("queue-count").textContent = t("（{n}）", { n: queued.length });
    $("queue").replaceChildren(...queued.map(queueItem));
    $("set-aside").replaceChildren(...setAside.map(queueItem));
    $("set-aside-count").textContent = t("（{n}）", { n: setAside.length });
    $("set-aside-box").hidden = !setAside.length;
  }
  function queueItem(h) {
    const item = el("li");
    if (h.conversation_id === openId) item.classList.add("active");
    item.append(el("div", (h.customer || t("顾客")) + " · " + (REASONS[h.reason] || h.reason), "title"),
                el("div", summaryText(h), "summary"),
                el("div", h.claimed_by ? t("由 {name} 接待 · {wait}", { name: h.claimed_by, wait: minutes(h.wait_seconds) })
                  : t("等待 {wait}", { wait: minutes(h.wait_seconds) }), "meta"));
    if (!h.claimed_by) {
      const claim = el("button", t("接入"));
      claim.addEventListener("click", (event) => {
        event.stopPropagation();
        once(claim, async () => {
          await api("POST", "/api/handoffs/" + h.id + "/claim").then(() => notice(t("已接入"), "ok")).catch(problem);
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
      const take = el("button", t("接管"));
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
    if (!context) { box.append(el("p", t("没有进行中的转人工。"), "hint")); return; }
    const dl = el("dl");
    const add = (k, v) => { dl.append(el("dt", k), el("dd", v)); };
    add(t("原因"), REASONS[context.reason] || context.reason);
    add(t("摘要"), summaryText(context) || "—");
    add(t("顾客"), (context.customer.name || "—") + " · " + context.customer.channel + " · " + context.customer.language);
    add(t("以前的对话"), String(context.customer.earlier_conversations));
    const did = el("dd");  // what the bot did, in words (older cards have only the entries' ids)
    const steps = (context.bot_did || context.kb_answers.map((k) => t("用条目 {id} 回答", { id: k.id }))).map(botStep);
    if (steps.length) { const list = el("ul", null, "bot-did"); list.append(...steps.map((s) => el("li", s))); did.append(list); }
    else did.textContent = "—";
    dl.append(el("dt", t("机器人做了")), did);
    add(t("推荐过"), context.products.map((p) => p.name + " ¥" + p.price).join(t("，")) || "—");
    box.append(dl);
  }

  // One step of what the bot did (handoff.episodes.bot_did) in words; a card from before those steps were
  // kept as data has them as Chinese sentences already.
  function botStep(step) {
    if (typeof step === "string") return step;
    const asked = step.asked ? t("「{text}」", { text: step.asked }) : t("顾客的问题");
    switch (step.did) {
      case "not_helpful": return t("顾客说没用：条目「{entry}」", { entry: step.entry });
      case "unsure": return t("没把握，没有直接回答{asked}", { asked });
      case "shipping": return t("报了运费和时效：{asked}", { asked });
      case "catalog": return t("用商品资料回答了{asked}", { asked });
      case "answered": return t("回答了{asked}，用的是条目「{entry}」", { asked, entry: step.entry });
      case "recommended": return t("推荐了 {n} 件商品：{names}", { n: step.products.length, names: step.products.join(t("、")) });
      default: return step.did;
    }
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
    card.append(el("strong", p.name), el("span", p.price !== undefined && p.price !== null ? t("{price}元", { price: Math.round(p.price * 100) / 100 }) : "", "price"));
    return card;
  }

  async function openConversation(id) {
    openId = id;
    const detail = await api("GET", "/api/conversations/" + id);
    const holder = detail.handoff && detail.handoff.claimed_by;
    const held = detail.state === "assigned" && holder === ME;
    $("chat-title").textContent = (detail.customer.name || t("对话 #{id}", { id })) + " · " + (STATES[detail.state] || detail.state) +
      (detail.state === "assigned" && holder && !held ? t("（由 {name} 接待）", { name: holder }) : "");
    const list = $("transcript");
    list.replaceChildren();
    detail.transcript.forEach((m, index) => {
      const item = el("li", null, m.direction + " " + m.author);
      const tapped = m.direction === "in" && m.text.startsWith("/") ? buttonTitle(m.text, detail.transcript.slice(0, index)) : null;
      item.append(el("span", (AUTHORS[m.author] || m.author) + (m.from ? " " + m.from : "") + " · " + shopTime(m.at), "who"));
      if (tapped) item.append(el("span", "👆 " + tapped, "tapped"));
      else if (m.text) item.append(el("span", ("edit_of" in m ? t("(已编辑) ") : "") + m.text));
      if ((m.products || []).length) {
        const cards = el("div", null, "cards");
        cards.append(...m.products.map(productCard));
        item.append(cards);
      }
      if ((m.buttons || []).length) item.append(el("span", t("按钮：") + m.buttons.map((b) => b.title).join(" · "), "buttons"));
      if (m.image) { const img = el("img"); img.src = m.image; img.alt = t("图片"); img.className = "sent"; item.append(img); }
      if (m.media && /^\/media\/[A-Za-z0-9_-]+\.[a-z0-9]+$/.test(m.media.url)) {
        const tag = { photo: "img", voice: "audio", audio: "audio", video: "video", video_note: "video" }[m.media.kind] || "a";
        const node = el(tag, tag === "a" ? t("附件") : null, "sent");
        if (tag === "a") node.href = m.media.url; else { node.src = m.media.url; if (tag !== "img") node.controls = true; }
        item.append(node);
      }
      if (m.delivery_status === "failed") item.append(el("span", "⚠ " + t("没有送达，请换个方式联系顾客"), "failed"));
      else if (m.delivery_status === "limited") {
        const why = { media: t("附件太大或超出今日额度，没有接收"), new_customers: t("同一网络新开的对话太多"),
                      address: t("同一网络发来的消息太多") }[m.limit] || t("发得太快，超出频率限制");
        item.append(el("span", "⏸ " + t("{why}：机器人没有回答", { why }), "delivery"));
      }
      else if (m.direction === "out" && m.author !== "bot") {  // what the channel did with a staff or system message
        const shown = { pending: "… " + t("发送中"), sent: "✓ " + t("已发出"), delivered: "✓ " + t("顾客已看到") }[m.delivery_status];
        if (shown) item.append(el("span", shown, "delivery"));
      }
      list.append(item);
    });
    const notes = $("notes");
    notes.replaceChildren(...detail.notes.map((n) => el("li", t("{author}：{text}", { author: n.author, text: n.text }))));
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
        box.append(el("p", t("暂时取不到建议，稍后会再试。"), "hint"));
        return;
      }
      if (!data.question) { box.append(el("p", t("顾客还没有问问题。"), "hint")); return; }
      box.append(el("p", t("顾客问：「{text}」", { text: data.question.text }), "asked"));
      const list = el("ol", null, "suggestions");
      for (const s of data.suggestions) {
        const item = el("li");
        item.append(el("span", s.bot_answer ? t("推荐回答") : t("知识库"), "badge" + (s.bot_answer ? " bot" : "")),
                    el("strong", s.title), el("p", s.text, "text"));
        const insert = el("button", t("插入"), "insert");
        insert.type = "button";
        insert.addEventListener("click", () => insertReply(s.text));
        item.append(insert);
        list.append(item);
      }
      if (!data.suggestions.length) list.append(el("li", t("知识库里没有相近的回答。"), "hint"));
      const products = el("div", null, "cards");
      for (const p of data.products) {
        const card = productCard(p);
        const row = el("div", null, "row");
        const insert = el("button", t("插入介绍"), "insert"), push = el("button", t("发卡片"), "insert quiet");
        insert.type = push.type = "button";
        insert.addEventListener("click", () => insertReply(p.text));
        push.addEventListener("click", () => once(push, () => pushProduct(p)));
        row.append(insert, push);
        card.append(row);
        products.append(card);
      }
      box.append(list, el("h3", t("相关商品")), products);
    }
    box.querySelectorAll("button.insert").forEach((b) => { b.hidden = !assistHeld; });
  }
  async function pushProduct(product) {
    const id = openId;
    if (id === null) return false;
    return api("POST", "/api/conversations/" + id + "/products", { product: product.id })
      .then(() => { notice(t("已发给顾客：{name}", { name: product.name }), "ok"); return true; })
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
      const option = el("option"); option.value = p.name; option.label = t("{price}元", { price: p.price }) + (p.stock ? "" : " · " + t("缺货")); return option;
    }));
  });
  $("push-product").addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = $("product-name").value.trim();
    const product = offered.find((p) => p.name === name) || (offered.length === 1 ? offered[0] : null);
    if (!product || openId === null) { notice(t("请从列表里选一个商品"), "error"); return; }
    if (await pushProduct(product)) $("product-name").value = "";
  });
  $("take-from").addEventListener("click", async () => {
    const holder = $("take-from").dataset.holder, id = openId;
    if (id === null || !(await confirmInPage(t("从 {name} 手里接过这个对话？之后由您回复顾客。", { name: holder })))) return;
    await api("POST", "/api/conversations/" + id + "/transfer", { to: ME })
      .then(() => notice(t("已接手，现在由您接待"), "ok")).catch(problem);
    await openConversation(id);
  });
  $("transfer-to").addEventListener("change", async () => {
    const to = $("transfer-to").value;
    $("transfer-to").value = "";
    if (!to || openId === null || !(await confirmInPage(t("把这个对话转给 {name}？", { name: to })))) return;
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
      const item = el("li", "/" + c.shortcut + t("：") + c.text);
      const remove = el("button", t("删除"));
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
    if (openId === null || !(await confirmInPage(t("结束这次服务？顾客会收到评分邀请，之后由机器人继续接待。")))) return;
    const id = openId;
    await api("POST", "/api/conversations/" + id + "/resolve").then(() => notice(t("服务已结束"), "ok")).catch(problem);
    openConversation(id);
  }));

  // The shop's processes as /healthz reports them under `techan run`: a restart is shown to staff, so
  // a quiet bot is explained ("messages are kept and answered when it is back") rather than a mystery.
  const PROCESS_NAMES = { rasa: t("智能助手"), app: t("服务程序") };
  function exitReason(text) {
    const match = /code (-?\d+)(?: \((\w+)\))?/.exec(text || "");
    if (!match) return text || "";
    return match[2] ? t("被 {signal} 信号结束", { signal: match[2] }) : t("退出码 {code}", { code: match[1] });
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
      (p.state === "restarting" || p.restarts > 0 ? t("{name}正在重启", { name: PROCESS_NAMES[name] })
        : t("{name}正在启动", { name: PROCESS_NAMES[name] })) +
      (p.last_exit ? t("（{why}）", { why: exitReason(p.last_exit) }) : ""));
    if (!down.length && health.rasa === false) down.push(t("智能助手暂时连不上"));
    const warnings = down.length ? [down.join(t("；")) + " · " + t("顾客的消息都已保存，恢复后自动回复")] : [];
    const telegram = health.telegram || {};  // new handoffs then reach staff here only, not in the group
    if (telegram.staff_group === "failing") {
      warnings.push(t("机器人发不进 Telegram 店员群（{error}），新的转人工只在工作台显示", { error: telegram.staff_group_error || "?" }));
    }
    const restarted = Object.entries(processes).filter(([, p]) => p.state === "up" && p.restarts > 0);
    const box = $("system");
    if (warnings.length) {
      $("system-text").textContent = "⚠ " + warnings.join(t("；"));
      box.className = "system down";
      box.title = "";
      box.hidden = false;
      $("system-dismiss").hidden = true;
    } else if (restarted.length && restartKey(processes) !== dismissedRestarts) {
      $("system-text").textContent = t("{names} 意外退出，已自动恢复", {
        names: restarted.map(([name, p]) => PROCESS_NAMES[name] + " " + clock(p.last_exit_at)).join(t("、")) });
      box.title = restarted.map(([name, p]) => t("{name}：{why}，共重启 {n} 次",
        { name: PROCESS_NAMES[name], why: exitReason(p.last_exit), n: p.restarts })).join("\n");
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
    ws.onopen = () => { $("live").textContent = "● " + t("实时"); checkSystem(); };
    ws.onclose = (event) => {
      if (event.code === 4401) return signIn();  // web.auth.SIGNED_OUT
      $("live").textContent = "○ " + t("重新连接…");
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
