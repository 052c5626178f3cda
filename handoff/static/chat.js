// Web chat: every message goes through POST /api/chat/{sender}; all customer and bot text is
// inserted with textContent, never as HTML. The sender id is only a name: the first message gets a chat
// token (HttpOnly cookies, and kept in memory for the X-Chat-Token header where a framed page gets no
// cookies); without it the shop answers 401 and the page starts a fresh chat.
(function () {
  "use strict";
  const list = document.getElementById("messages");
  const form = document.getElementById("composer");
  const input = document.getElementById("input");
  const send = document.getElementById("send");
  const status = document.getElementById("status");
  // The page speaks the browser's language (Chinese unless it is English); the bot answers in the
  // language the customer writes, so English quick replies start an English conversation.
  const ENGLISH = /^en\b/i.test(navigator.language || "");
  const TEXT = ENGLISH ? {
    states: { bot: "Assistant online", waiting: "Connecting you with our staff…", assigned: "Staff are with you",
              resolved: "Chat ended" },
    sendFailed: "Couldn't send that, please try again shortly",
    offline: "The network seems to be down; your message was not sent. Please try again.",
    resending: "Sending again…",
    hello: "Hello! I'm the shop's assistant. Ask me about shelf life, storage, vacuum packing, shipping times " +
           "and fees, or let me help you choose a gift.",
    feedback: "Did this answer help?",
    limited: "Got it. Please wait a little before sending more.",
    newChat: "The earlier chat can't be continued here, so a new chat has started.",
    staff: (name) => name ? name + " · staff" : "Staff",
    call: { on: "In a call", fold: "Hide", unfold: "Show the call", ended: "Call ended", close: "Close" },
  } : {
    states: { bot: "智能助手在线", waiting: "正在为您转接店员…", assigned: "店员已接入", resolved: "对话已结束" },
    sendFailed: "发送失败，请稍后再试",
    offline: "网络好像断了，消息没有发出去，请稍后重试",
    resending: "正在重新发送…",
    hello: "您好！我是特产小店的智能助手，可以问我保质期、保存方法、真空包装、运费和发货时间，也可以让我帮您挑礼物。",
    feedback: "这个回答有帮助吗？",
    limited: "消息已收到，请稍等一会儿再发。",
    newChat: "之前的对话无法在这里继续，已为您开始新的对话。",
    staff: (name) => "店员" + (name ? " " + name : ""),
    call: { on: "通话中", fold: "收起", unfold: "展开通话", ended: "通话已结束", close: "关闭" },
  };
  const STATES = TEXT.states;
  if (ENGLISH) {
    document.documentElement.lang = "en";
    document.title = "Specialty Shop · Chat";
    status.textContent = STATES.bot;
    send.textContent = "Send";
    input.placeholder = "Type your question…";
    for (const button of document.querySelectorAll("#suggestions button[data-en-text]")) {
      button.dataset.text = button.dataset.enText;
      button.textContent = button.dataset.enLabel;
    }
  }

  function randomId(size) {
    const bytes = new Uint8Array(size || 16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }
  function newSenderId() {
    const id = "web-" + randomId(12);
    localStorage.setItem("techan-sender", id);
    return id;
  }
  function senderId() {
    const id = localStorage.getItem("techan-sender");
    return id && /^[A-Za-z0-9_-]{1,64}$/.test(id) ? id : newSenderId();
  }
  let sender = senderId();
  const returning = localStorage.getItem("techan-chatted") === sender;  // this browser wrote in this chat before
  let chatPath = "/api/chat/" + encodeURIComponent(sender);
  let chatToken = null; // from the first answer; the cookies carry it too, where the browser keeps them
  function headers(json) {
    const h = json ? { "Content-Type": "application/json" } : {};
    if (chatToken) h["X-Chat-Token"] = chatToken;
    return h;
  }

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }
  function scroll() { list.scrollTop = list.scrollHeight; }
  function addMine(text) { const item = el("li", "msg me", text); list.appendChild(item); scroll(); return item; }
  function addNotice(text) { list.appendChild(el("li", "msg notice", text)); scroll(); }

  // Staff messages are labelled with the name the staff member goes by, and styled apart from the bot's.
  function addReply(reply) {
    const item = el("li", reply.author === "staff" ? "msg bot staff" : "msg bot");
    if (reply.author === "staff") item.appendChild(el("div", "from", TEXT.staff(reply.from)));
    item.appendChild(document.createTextNode(reply.text || ""));
    if (reply.image) { const img = el("img"); img.src = reply.image; img.alt = ""; item.appendChild(img); }
    if (reply.products && reply.products.length) {
      const grid = el("div", "products");
      for (const p of reply.products) {
        const card = el("div", "product");
        card.dataset.productId = p.id || "";
        const img = el("img"); img.src = p.image || ""; img.alt = p.name || ""; card.appendChild(img);
        const body = el("div", "body");
        body.appendChild(el("div", "name", p.name));
        body.appendChild(el("div", "price", "¥" + p.price));
        if (p.reason) body.appendChild(el("div", "reason", p.reason));
        card.appendChild(body);
        // Tapping a card asks about that product, so follow-ups ("能放多久？") know what "it" is.
        if (p.id) card.addEventListener("click", () => { if (!inFlight) submit(p.name, "/ask_product_info" + JSON.stringify({ product: p.id })); });
        grid.appendChild(card);
      }
      item.appendChild(grid);
    }
    if (reply.buttons && reply.buttons.length) {
      const row = el("div", "buttons");
      for (const b of reply.buttons) {
        if (b.url) {  // a link opens in a new tab; a call invitation of this shop opens inside the chat
          if (!/^https?:\/\//.test(b.url)) continue;
          if (b.ended) {  // a call that is over (the page opened again): said so, nothing to tap
            const over = el("a", "link-button ended", TEXT.call.ended);
            over.setAttribute("aria-disabled", "true");
            row.appendChild(over);
            continue;
          }
          const link = el("a", "link-button", b.title);
          link.href = b.url; link.target = "_blank"; link.rel = "noopener";
          row.appendChild(link);
          const call = new URL(b.url).pathname.match(/^\/call\/([^/]+)$/);
          if (call) {
            withJoinPass(link, call[1]);
            link.addEventListener("click", (event) => {
              if (link.classList.contains("ended")) { event.preventDefault(); return; }
              // In a panel here when this page may use the camera (a chat framed by another site usually
              // may not); otherwise, as before, in a new tab.
              if (!callsHere() || new URL(link.href).origin !== location.origin) return;
              event.preventDefault();
              openCall(link);
            });
          }
          continue;
        }
        const button = el("button", null, b.title);
        button.type = "button";
        if (b.payload === "/cancel") button.classList.add("leave-queue");
        button.addEventListener("click", () => {
          row.querySelectorAll("button").forEach((x) => { x.disabled = true; });
          submit(b.title, b.payload);
        });
        row.appendChild(button);
      }
      item.appendChild(row);
    }
    if (reply.feedback && reply.feedback.length) item.appendChild(feedbackBar(reply.feedback));
    list.appendChild(item);
    scroll();
  }

  // A call opens in a panel above the chat: the picture on top, and below it the chat, where a product staff
  // show during the call appears. The call page says when the call ended; the panel closes and its link is
  // marked as ended, so it cannot be tapped again.
  const callPanel = document.getElementById("call-panel");
  const callFrame = document.getElementById("call-frame");
  const callFold = document.getElementById("call-fold");
  const callClose = document.getElementById("call-close");
  let callLink = null;
  document.getElementById("call-title").textContent = TEXT.call.on;
  callFold.textContent = TEXT.call.fold;
  callClose.textContent = TEXT.call.close;
  function callsHere() {
    if (window.top === window) return true;
    const policy = document.permissionsPolicy || document.featurePolicy;
    return Boolean(policy && policy.allowsFeature("camera") && policy.allowsFeature("microphone"));
  }
  function closeCall() {
    callPanel.hidden = true;
    callFrame.src = "about:blank";
    callLink = null;
    scroll();
  }
  callClose.addEventListener("click", closeCall);
  function openCall(link) {
    if (callLink === link && !callPanel.hidden) return;
    callLink = link;
    callFrame.src = link.href;
    callPanel.hidden = false;
    callPanel.classList.remove("folded");
    callFold.textContent = TEXT.call.fold;
    callClose.hidden = true;
  }
  callFold.addEventListener("click", () => {
    const folded = callPanel.classList.toggle("folded");
    callFold.textContent = folded ? TEXT.call.unfold : TEXT.call.fold;
  });
  window.addEventListener("message", (event) => {
    if (event.origin !== location.origin || event.source !== callFrame.contentWindow) return;
    if (!event.data || !callLink) return;
    if (event.data.type === "techan-call-failed") { callClose.hidden = false; return; }  // its words stay; the link too
    if (event.data.type !== "techan-call-ended") return;
    const link = callLink;
    link.textContent = TEXT.call.ended;
    link.classList.add("ended");
    link.removeAttribute("href");
    link.setAttribute("aria-disabled", "true");
    setTimeout(() => { if (callLink === link) closeCall(); }, 2500);  // its last words a moment, then the chat
  });

  // A call joins as this customer only with the pass this page gets with its chat token: it rides in the
  // link's fragment (never sent to a server), so the call page opened from here can present it.
  function withJoinPass(link, linkToken) {
    fetch(chatPath + "/call-pass", { method: "POST", headers: headers(true), body: JSON.stringify({ link: linkToken }) })
      .then((response) => (response.ok ? response.json() : null))
      .then((data) => { if (data && data.pass) link.hash = "chat=" + encodeURIComponent(data.pass); })
      .catch(() => {});
  }

  // 有用 / 没用 under a knowledge answer: small labelled controls; one tap, then both are disabled
  // and the chosen one stays marked. The tap is sent without a chat bubble of its own.
  function feedbackBar(buttons) {
    const bar = el("div", "feedback");
    bar.setAttribute("role", "group");
    bar.setAttribute("aria-label", TEXT.feedback);
    bar.appendChild(el("span", "feedback-label", TEXT.feedback));
    for (const b of buttons) {
      const button = el("button", "feedback-button", b.title);
      button.type = "button";
      button.setAttribute("aria-pressed", "false");
      button.addEventListener("click", () => {
        bar.querySelectorAll("button").forEach((x) => { x.disabled = true; });
        button.classList.add("chosen");
        button.setAttribute("aria-pressed", "true");
        bar.classList.add("answered");
        submit(b.title, b.payload, { quiet: true });
      });
      bar.appendChild(button);
    }
    return bar;
  }

  // Messages that arrive outside the customer's own requests (staff replies while with staff, and bot
  // answers that came once the assistant was ready) are fetched, shown like bot replies, then marked read.
  let lastSeenId = 0;
  let polling = false;
  let awaitingBot = false; // a message of ours waits for the assistant ("pending")
  const WITH_STAFF = ["waiting", "assigned"];

  let currentState = "bot";

  // No token for this sender id (a new visitor, cleared cookies, a chat ended elsewhere): a new id, a fresh chat.
  function startFresh() {
    sender = newSenderId();
    chatPath = "/api/chat/" + encodeURIComponent(sender);
    chatToken = null;
    lastSeenId = 0;
    awaitingBot = false;
    currentState = "bot";
    status.textContent = STATES.bot;
    if (socket) socket.close();
  }

  // Whether the shop knows this page's chat (it holds the chat's token): until then each message waits for the
  // one before, whose answer brings the token, so quick messages of a new chat all land in that one chat.
  let known = false;

  async function poll(render) {
    const response = await fetch(chatPath + "/messages?after=" + lastSeenId, { headers: headers(false) });
    if (response.status === 401) { startFresh(); return null; }
    if (!response.ok) return null;
    known = true;
    const data = await response.json();
    const before = lastSeenId;
    for (const message of data.messages) {
      if (message.id <= lastSeenId) continue; // a concurrent poll already showed it
      lastSeenId = message.id;
      if (render) addReply({ text: message.text, buttons: message.buttons, image: message.image,
                             products: message.products, feedback: message.feedback, author: message.author,
                             from: message.from });
    }
    if (render && lastSeenId > before) {  // reading never writes; saying what was shown is a separate request
      fetch(chatPath + "/messages/read", { method: "POST", headers: headers(true),
                                           body: JSON.stringify({ upto: lastSeenId }) }).catch(() => {});
    }
    awaitingBot = Boolean(data.pending);
    currentState = data.state;
    // 取消 only means something while waiting: once staff joined (or the chat went back to the bot) it goes.
    if (data.state !== "waiting") list.querySelectorAll(".leave-queue").forEach((button) => { button.hidden = true; });
    status.textContent = STATES[data.state] || "";
    listen();
    return data.state;
  }
  const following = () => awaitingBot || WITH_STAFF.includes(currentState);

  // Push: the server says when staff wrote; polling is the fallback while the socket is down. It opens once
  // the shop knows this page (an answer came back); a socket that never opened (refused: no cookie in a
  // framed page) is tried again only after the next answer, one that opened and dropped after 5 s.
  let socket = null;
  function listen() {
    if (socket) return;
    const mine = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host +
                               "/ws/chat/" + encodeURIComponent(sender));
    let opened = false;
    socket = mine;
    mine.onopen = () => { opened = true; };
    mine.onmessage = () => { poll(true).catch(() => {}); };
    mine.onclose = () => {
      if (socket !== mine) return;
      socket = null;
      if (opened) setTimeout(listen, 5000);
    };
  }

  async function follow() {
    if (polling) return;
    polling = true;
    try {
      while (following()) {
        await new Promise((resolve) => setTimeout(resolve, 2500));
        // While waiting for the assistant, poll even with the socket open: its push is only a hint.
        if (awaitingBot || !(socket && socket.readyState === WebSocket.OPEN)) await poll(true).catch(() => null);
      }
    } finally {
      polling = false;
    }
  }

  // A message is sent until the shop has it: network errors and server errors (a busy database) are
  // retried with the same client id, which the server treats as the same message (stored once).
  const RETRY_PAUSES_MS = [1000, 2000, 4000, 8000, 15000];
  const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // Over a rate limit the message is kept and the shop's notice (once per window) says when to send again:
  // until then the send button rests, and a message sent anyway after that notice gets one note of ours.
  let restsUntil = 0, noted = false;
  function rest(seconds, told) {
    if (told) noted = false;
    else if (!noted) { addNotice(TEXT.limited); noted = true; }
    restsUntil = Date.now() + 1000 * Math.max(1, seconds || 1);
    setTimeout(() => { sending(Date.now() < restsUntil); }, restsUntil - Date.now() + 50);
  }

  // While a message is on its way (or the shop asked to wait), the send button and the quick questions rest,
  // so a double tap sends once.
  const suggestions = document.querySelectorAll("#suggestions button");
  let inFlight = false;  // a message is on its way: a second tap on a card or quick question sends nothing
  function sending(busy) {
    inFlight = busy;
    send.disabled = busy;
    suggestions.forEach((button) => { button.disabled = busy; });
  }

  let resumed = Promise.resolve();  // the first look at the chat, then (until it is known) the message before
  async function submit(shown, payload, options) {
    const text = (shown || "").trim();
    if (!text) return;
    const mine = options && options.quiet ? null : addMine(text);
    sending(true);
    const before = resumed;
    let done = null;
    if (!known) resumed = before.then(() => new Promise((resolve) => { done = resolve; }));
    await before;
    const body = payload && payload.startsWith("/") ? { payload: payload } : { text: payload || text };
    body.client_id = randomId();
    body.language = ENGLISH ? "en" : "zh";
    let refused = false;
    try {
      for (let attempt = 0; ; attempt++) {
        let response = null, data = {};
        try {
          response = await fetch(chatPath, { method: "POST", headers: headers(true), body: JSON.stringify(body) });
          data = await response.json().catch(() => ({}));
        } catch (err) {
          response = null; // the network: try again
        }
        if (data.chat_token) chatToken = data.chat_token;
        if (response && response.status === 401 && !refused) {  // this chat is not ours any more: start anew
          refused = true;
          startFresh();
          addNotice(TEXT.newChat);
          attempt--;
          continue;
        }
        if (response && response.ok) {
          known = true;
          localStorage.setItem("techan-chatted", sender);
          if (mine) mine.classList.remove("sending");
          currentState = data.state;
          status.textContent = STATES[data.state] || "";
          for (const reply of data.replies || []) addReply(reply);
          if (data.pending) awaitingBot = true;
          if (data.limited) rest(data.retry_after, (data.replies || []).length > 0);
          if (following()) follow();
          listen();
          return;
        }
        if (response && response.status < 500) { addNotice(data.error || TEXT.sendFailed); return; }
        if (attempt >= RETRY_PAUSES_MS.length) { addNotice(response ? TEXT.sendFailed : TEXT.offline); return; }
        if (mine) { mine.classList.add("sending"); mine.title = TEXT.resending; }
        await pause(RETRY_PAUSES_MS[attempt]);
      }
    } finally {
      if (done) done();
      sending(Date.now() < restsUntil);
    }
  }

  // Near the length limit a counter shows how much is left, before the box stops taking more.
  const counter = document.getElementById("counter");
  function count() {
    const limit = input.maxLength, used = input.value.length;
    counter.hidden = used < limit * 0.8;
    counter.textContent = used + " / " + limit;
    counter.classList.toggle("full", used >= limit);
  }
  input.addEventListener("input", count);

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value;
    input.value = "";
    count();
    submit(text);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  document.getElementById("suggestions").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-text]");
    if (button) submit(button.dataset.text);
  });
  // A tapped button is shown by its title (from the message that offered it), not its payload.
  const TAPPED = ENGLISH ? { "/request_human": "Talk to staff", "/cancel": "Cancel" } : { "/request_human": "转人工", "/cancel": "取消" };
  function tapped(text, earlier) {
    if (!text.startsWith("/")) return text;
    for (let i = earlier.length - 1; i >= 0; i--) {
      const found = (earlier[i].buttons || []).find((b) => b.payload === text);
      if (found) return found.title;
    }
    return TAPPED[text.split("{")[0]] || null;
  }

  // A reopened page shows the chat so far, from the shop (only this chat's token gets it), with the buttons
  // of its last message live (取消 while waiting) and call invitations' (to join a call again, or see it ended);
  // other older buttons and links are shown as text only.
  async function restore() {
    const response = await fetch(chatPath + "/history", { headers: headers(false) });
    if (!response.ok) return;
    const data = await response.json();
    data.messages.forEach((message, index) => {
      const last = index === data.messages.length - 1;
      if (message.direction === "in") {
        const shown = tapped(message.text, data.messages.slice(0, index));
        if (shown) addMine(shown);
      } else {
        addReply({ text: message.text, image: message.image, products: message.products, author: message.author,
                   from: message.from, buttons: last ? message.buttons : (message.buttons || []).filter((b) => b.call) });
      }
      if (message.direction === "out") lastSeenId = Math.max(lastSeenId, message.id);
    });
    if (lastSeenId) {  // shown now: staff messages sent while the page was closed count as delivered
      fetch(chatPath + "/messages/read", { method: "POST", headers: headers(true),
                                           body: JSON.stringify({ upto: lastSeenId }) }).catch(() => {});
    }
  }

  // A reloaded page picks up where it was: the chat so far, then what came since, and an open handoff followed.
  // Sending waits for this first look, so that its answer (maybe "start fresh") cannot land after the first message.
  addReply({ text: TEXT.hello });
  resumed = (returning ? restore().catch(() => {}) : Promise.resolve()).then(() => poll(returning)).then((state) => {
    if (state === null && returning && !known) addNotice(TEXT.newChat);  // its earlier chat cannot go on here
    if (following()) follow();
  }).catch(() => {});
})();
