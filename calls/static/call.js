// Calls, for both the customer's page and the staff view. Signalling over /ws/call/{id}:
// P2P: staff offer, the customer answers, ICE candidates trickle both ways, ICE restart after a drop.
// Bridge: each side offers to the app's aiortc peer (all candidates in the offer; aioice does not trickle).
(function () {
  "use strict";
  const cfg = JSON.parse(document.getElementById("call-config").textContent);
  const $ = (id) => document.getElementById(id);
  const status = (text) => { $("status").textContent = text; $("status").hidden = !text; };
  const isStaff = cfg.role === "staff";
  const wantVideo = cfg.kind === "video";
  let ws = null, pc = null, stream = null, facing = "environment", joinedAt = 0, connectedOnce = false;
  let iceServers = [], ended = false, statsTimer = null, lastBytes = null;

  async function openMedia() {
    const video = wantVideo ? { facingMode: facing, width: { ideal: 1280 }, height: { ideal: 720 } } : false;
    try {
      return await navigator.mediaDevices.getUserMedia({ audio: true, video });
    } catch (err) {
      if (!video) throw err;
      status("没有拿到摄像头权限，改为语音通话。可以在浏览器设置里允许摄像头后重新进入。");
      return await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
    }
  }

  function send(message) { if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message)); }

  // Still product close-ups matter more than motion: keep resolution, allow a generous bitrate.
  function tuneSenders() {
    for (const sender of pc.getSenders()) {
      if (!sender.track || sender.track.kind !== "video") continue;
      const params = sender.getParameters();
      params.degradationPreference = "maintain-resolution";
      params.encodings = (params.encodings && params.encodings.length ? params.encodings : [{}])
        .map((e) => Object.assign(e, { maxBitrate: 2500000, maxFramerate: 30 }));
      sender.setParameters(params).catch(() => {});
    }
  }

  function newPeer() {
    if (pc) pc.close();
    pc = new RTCPeerConnection({ iceServers });
    for (const track of stream.getTracks()) {
      if (track.kind === "video") track.contentHint = "detail";
      pc.addTrack(track, stream);
    }
    if (!stream.getVideoTracks().length && wantVideo) pc.addTransceiver("video", { direction: "recvonly" });
    pc.ontrack = (event) => {
      const remote = $("remote");
      if (remote.srcObject !== event.streams[0]) remote.srcObject = event.streams[0] || new MediaStream([event.track]);
    };
    if (cfg.mode === "p2p") pc.onicecandidate = (event) => { if (event.candidate) send({ type: "candidate", candidate: event.candidate.toJSON() }); };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "connected") {
        status("");
        if (!connectedOnce) { connectedOnce = true; send({ type: "connected", ms: Math.round(performance.now() - joinedAt) }); }
      } else if (pc.connectionState === "failed") {
        status("网络断了，正在重连…");
        reconnect();
      }
    };
    tuneSenders();
    return pc;
  }

  async function gathered() {
    if (pc.iceGatheringState === "complete") return;
    await new Promise((resolve) => {
      const done = () => { if (pc.iceGatheringState === "complete") resolve(); };
      pc.addEventListener("icegatheringstatechange", done);
      setTimeout(resolve, 3000);
    });
  }

  async function offer(restart) {
    if (!pc || cfg.mode === "bridge") newPeer();
    const description = await pc.createOffer(restart ? { iceRestart: true } : {});
    await pc.setLocalDescription(description);
    if (cfg.mode === "bridge") await gathered();
    send({ type: "offer", sdp: pc.localDescription.sdp, restart: !!restart });
  }

  async function reconnect() {
    if (ended) return;
    if (cfg.mode === "bridge") return offer(false);
    if (isStaff && pc) { pc.restartIce(); return offer(true); }
  }

  async function onSignal(message) {
    if (message.type === "joined") {
      iceServers = message.ice_servers || [];
      if (message.rejoin) sessionStorage.setItem("techan-call-" + cfg.call_id, message.rejoin);
      status(message.peer_present || cfg.mode === "bridge" ? "连接中…" : (isStaff ? "等顾客加入…" : "等店员加入…"));
    } else if (message.type === "start") {
      await offer(false);
    } else if (message.type === "offer") {
      if (!pc || !message.restart) newPeer();
      await pc.setRemoteDescription({ type: "offer", sdp: message.sdp });
      await pc.setLocalDescription(await pc.createAnswer());
      send({ type: "answer", sdp: pc.localDescription.sdp });
    } else if (message.type === "answer") {
      await pc.setRemoteDescription({ type: "answer", sdp: message.sdp });
    } else if (message.type === "candidate" && message.candidate && pc) {
      await pc.addIceCandidate(message.candidate).catch(() => {});
    } else if (message.type === "peer_left") {
      status(isStaff ? "顾客暂时断开了，等他回来…" : "店员暂时断开了，请稍等…");
    } else if (message.type === "peer_stats" && isStaff) {
      showStats("顾客", message);
    } else if (message.type === "ended") {
      finish(message.reason && message.reason.endsWith("hangup") ? "通话已结束" : "通话已结束（" + message.reason + "）");
    } else if (message.type === "error") {
      finish(message.error);
    }
  }

  function connect(hello) {
    ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/call/" + cfg.call_id);
    ws.onopen = () => { joinedAt = performance.now(); send(hello); };
    ws.onmessage = (event) => { onSignal(JSON.parse(event.data)).catch((err) => console.error(err)); };
    ws.onclose = () => {
      if (ended) return;
      status("连接断了，正在重连…");
      const rejoin = sessionStorage.getItem("techan-call-" + cfg.call_id);
      setTimeout(() => connect(isStaff ? { type: "join", role: "staff" } : { type: "join", role: "customer", rejoin }), 2000);
    };
  }

  async function collectStats() {
    if (!pc) return;
    const report = await pc.getStats();
    const sample = {};
    let bytes = 0, lost = 0, received = 0;
    report.forEach((s) => {
      if (s.type === "candidate-pair" && s.state === "succeeded" && s.currentRoundTripTime !== undefined) sample.rtt_ms = s.currentRoundTripTime * 1000;
      if (s.type === "inbound-rtp") {
        bytes += s.bytesReceived || 0; lost += s.packetsLost || 0; received += s.packetsReceived || 0;
        if (s.kind === "video") { sample.width = s.frameWidth || 0; sample.height = s.frameHeight || 0; sample.fps = s.framesPerSecond || 0; sample.frames = s.framesDecoded || 0; }
      }
    });
    const now = performance.now();
    if (lastBytes) sample.bitrate_kbps = ((bytes - lastBytes.bytes) * 8) / (now - lastBytes.at);
    lastBytes = { bytes, at: now };
    sample.loss = received + lost ? lost / (received + lost) : 0;
    send(Object.assign({ type: "stats" }, sample));
    window.techanCallStats = sample;  // for tests and for support staff poking at the page
    if (isStaff) showStats("我方收到", sample);
  }

  function showStats(who, s) {
    const box = $("stats");
    if (!box) return;
    const line = who + "：" + (s.width ? s.width + "×" + s.height + " " : "") + (s.bitrate_kbps ? Math.round(s.bitrate_kbps) + " kbps " : "") +
      (s.rtt_ms !== undefined ? Math.round(s.rtt_ms) + " ms " : "") + "丢包 " + ((s.loss || 0) * 100).toFixed(1) + "%";
    let node = box.querySelector('[data-who="' + who + '"]');
    if (!node) { node = document.createElement("dd"); node.dataset.who = who; box.append(node); }
    node.textContent = line;
    const quality = $("quality");
    const poor = (s.loss || 0) > 0.08 || (s.rtt_ms || 0) > 600, fair = (s.loss || 0) > 0.02 || (s.rtt_ms || 0) > 250;
    quality.className = "quality " + (poor ? "poor" : fair ? "fair" : "good");
    quality.textContent = poor ? "● 信号差" : fair ? "● 信号一般" : "● 信号好";
  }

  function finish(text) {
    ended = true;
    status(text);
    clearInterval(statsTimer);
    if (pc) pc.close();
    if (stream) stream.getTracks().forEach((t) => t.stop());
    if (ws) ws.close();
    $("controls").hidden = true;
  }

  function controls() {
    $("mute").onclick = (e) => { const t = stream.getAudioTracks()[0]; if (!t) return; t.enabled = !t.enabled; e.target.setAttribute("aria-pressed", String(!t.enabled)); };
    $("camera").onclick = (e) => { const t = stream.getVideoTracks()[0]; if (!t) return; t.enabled = !t.enabled; e.target.setAttribute("aria-pressed", String(!t.enabled)); };
    $("flip").onclick = async () => {
      facing = facing === "environment" ? "user" : "environment";
      const fresh = await navigator.mediaDevices.getUserMedia({ video: { facingMode: facing } }).catch(() => null);
      if (!fresh) return;
      const track = fresh.getVideoTracks()[0];
      track.contentHint = "detail";
      const sender = pc && pc.getSenders().find((s) => s.track && s.track.kind === "video");
      if (sender) await sender.replaceTrack(track);
      stream.getVideoTracks().forEach((t) => { t.stop(); stream.removeTrack(t); });
      stream.addTrack(track);
      $("local").srcObject = stream;
    };
    $("flip").hidden = !wantVideo;
    $("hangup").onclick = () => { send({ type: "hangup" }); finish("通话已结束"); };
  }

  async function begin(hello) {
    try {
      stream = await openMedia();
    } catch (err) {
      finish("没有拿到麦克风权限，无法通话。请在浏览器设置里允许麦克风，然后重新打开链接。");
      return;
    }
    $("local").srcObject = stream;
    if (!stream.getVideoTracks().length) $("local").hidden = true;
    $("controls").hidden = false;
    controls();
    connect(hello);
    statsTimer = setInterval(() => collectStats().catch(() => {}), 3000);
  }

  if (isStaff) {
    begin({ type: "join", role: "staff" });
    document.querySelectorAll("button[data-product]").forEach((b) => b.addEventListener("click", () => pushProduct(b.dataset.product)));
    $("push-form").addEventListener("submit", (e) => { e.preventDefault(); pushProduct($("push-id").value.trim()); });
  } else {
    const rejoin = sessionStorage.getItem("techan-call-" + cfg.call_id);
    const initData = new URLSearchParams(location.hash.slice(1)).get("tgWebAppData") || "";
    $("consent-box").addEventListener("submit", (e) => {
      e.preventDefault();
      $("consent-box").hidden = true;
      const consent = !!($("consent") && $("consent").checked);
      begin(rejoin ? { type: "join", role: "customer", rejoin } : { type: "join", role: "customer", token: cfg.token, consent, init_data: initData });
    });
  }

  async function pushProduct(id) {
    if (!id) return;
    const csrf = document.querySelector('meta[name="csrf-token"]').content;
    const response = await fetch("/api/conversations/" + cfg.conversation_id + "/products", {
      method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: JSON.stringify({ product: id }) });
    const data = await response.json().catch(() => ({}));
    status(response.ok ? "" : (data.error || "发送失败"));
  }
})();
