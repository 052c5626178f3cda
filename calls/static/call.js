// Calls, for both the customer's page and the staff view. Signalling over /ws/call/{id}:
// P2P: staff offer, the customer answers, ICE candidates trickle both ways, ICE restart after a drop.
// Bridge: each side offers to the app's aiortc peer (all candidates in the offer; aioice does not trickle).
// On a weak network: both pages judge the call from getStats once a second (好 / 一般 / 差), say when the
// picture pauses for bandwidth or the call is reconnecting, offer to go voice-only, and recover from a
// drop by themselves (ICE restart in P2P, a fresh offer to the bridge; a bounded number of tries).
// Staff can ask for a 1080p close-up (高清特写): the camera at 1920×1080, a higher bitrate, resolution kept.
(function () {
  "use strict";
  const cfg = JSON.parse(document.getElementById("call-config").textContent);
  const $ = (id) => document.getElementById(id);
  const status = (text) => { $("status").textContent = text; $("status").hidden = !text; };
  const isStaff = cfg.role === "staff";
  const wantVideo = cfg.kind === "video";
  let ws = null, pc = null, stream = null, facing = "environment", joinedAt = 0, connectedOnce = false;
  let iceServers = [], ended = false, statsTimer = null, lastBytes = null, icePolicy = "all";
  let hd = false, hdScale = 1, hdRoom = 0, freeClimb = 0, toldSmall = false, voiceOnly = false, statsTick = 0, prev = null, recent = [], silentFor = 0, lossWindow = [];
  let recovery = { tries: 0, timer: null };
  const MAX_RECOVERY_TRIES = 6;
  // The staff page is in the language its reader chose (the server sets it); the customer's follows the browser.
  const ENGLISH = document.getElementById("page-text") ? document.documentElement.lang === "en"
    : /^en\b/i.test(navigator.language || "");
  const say = (zh, en) => (ENGLISH ? en : zh);
  const SIZE = { normal: { width: 1280, height: 720 }, hd: { width: 1920, height: 1080 } };
  const cameraSize = () => (hd ? SIZE.hd : SIZE.normal);
  // A close-up's size for the bandwidth estimate (availableOutgoingBitrate): 1080p from 1.8 Mbps, 720p from
  // 1 Mbps, 540p, 360p, 270p below 300 kbps; the frame rate gives way within a rung (maintain-resolution).
  const LADDER = [[1800000, 1], [1000000, 1.5], [550000, 2], [300000, 3], [0, 4]];
  // A new connection's close-up starts at 360p, as its first key frame would take seconds to squeeze a 1080p
  // one through a weak link, and climbs at once while the estimate ramps up (its first seconds).
  const START_SCALE = 3, FREE_CLIMB_S = 6;
  // Up a rung only with room to spare, except through the bridge: there the estimate is the receiving browser's
  // (REMB), which grows only with what arrives (at most 1.5 times it), so it would wait for room that never comes.
  const CLIMB_HEADROOM = cfg.mode === "bridge" ? 1 : 1.2;

  // The page is written in Chinese; a browser set to English gets its words in English.
  if (ENGLISH) {
    document.documentElement.lang = "en";
    const words = { join: "Join the call", mute: "🎙 Mute", camera: "📷 Camera off", flip: "🔄 Flip",
                    hangup: "Hang up", status: "Getting ready…" };
    for (const [id, text] of Object.entries(words)) { if ($(id)) $(id).textContent = text; }
    const intro = document.querySelector("#consent-box p");
    if (intro && intro.firstChild) intro.firstChild.nodeValue = "Our staff will show you the products on video. ";
    const consent = document.querySelector("#consent-box label");
    if (consent && consent.lastChild) consent.lastChild.nodeValue = " I agree that the shop records this call (for after-sales checks; optional)";
  }

  async function openMedia() {
    const video = wantVideo ? { facingMode: facing, width: { ideal: cameraSize().width }, height: { ideal: cameraSize().height }, frameRate: { ideal: 30 } } : false;
    try {
      return await navigator.mediaDevices.getUserMedia({ audio: true, video });
    } catch (err) {
      if (!video) throw err;
      status(say("没有拿到摄像头权限，改为语音通话。可以在浏览器设置里允许摄像头后重新进入。", "No camera permission: this is a voice call. Allow the camera in the browser's settings, then open the call again."));
      return await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
    }
  }

  function send(message) { if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message)); }

  // A close-up keeps the resolution its rung of the ladder allows (the frame rate gives way) with up to
  // 6 Mbps; a normal picture lets the encoder lower resolution and frame rate together.
  function tuneSenders() {
    if (!pc) return;
    for (const sender of pc.getSenders()) {
      if (!sender.track || sender.track.kind !== "video") continue;
      const params = sender.getParameters();
      params.degradationPreference = hd ? "maintain-resolution" : "balanced";
      params.encodings = (params.encodings && params.encodings.length ? params.encodings : [{}])
        .map((e) => Object.assign(e, { maxBitrate: hd ? 6000000 : 2500000, maxFramerate: 30, scaleResolutionDownBy: hd ? hdScale : 1 }));
      sender.setParameters(params).catch(() => {});
    }
  }

  // A new connection, or in bridge mode a newly arrived other side, starts the close-up small (360p) and climbs
  // freely while the estimate settles: a 1080p key frame would fill a weak link for seconds.
  function restartCloseUp() {
    hdScale = START_SCALE;
    freeClimb = FREE_CLIMB_S;
  }

  // Down the ladder at once when the estimate falls below the rung; up one rung after 3 s with room to spare.
  function fitCloseUp(available) {
    if (!hd || available === undefined) return;
    const rung = LADDER.findIndex(([, scale]) => scale === hdScale), want = LADDER.findIndex(([bps]) => available >= bps);
    if (want > rung) { hdScale = LADDER[want][1]; hdRoom = 0; tuneSenders(); }
    else if (want < rung && freeClimb > 0) { hdScale = LADDER[want][1]; hdRoom = 0; tuneSenders(); }
    else if (want < rung && available >= LADDER[rung - 1][0] * CLIMB_HEADROOM) {
      if (++hdRoom >= 3) { hdScale = LADDER[rung - 1][1]; hdRoom = 0; tuneSenders(); }
    } else hdRoom = 0;
    if (freeClimb > 0) freeClimb--;
    const small = hdScale > 1 && freeClimb === 0;  // (nothing to tell while a new connection's estimate ramps up)
    if (isStaff && small !== toldSmall) {
      toldSmall = small;
      status(small ? say("网络带宽不够 1080p，特写画面先降低清晰度", "Not enough bandwidth for 1080p: the close-up is sent smaller for now") : "");
    }
  }

  // Opus with redundancy (RED, RFC 2198) where both browsers have it: each packet carries the previous
  // frame again, so a lost packet costs no audio. The bridge (aiortc) has no RED and answers plain Opus.
  function preferRedundantAudio() {
    const caps = window.RTCRtpReceiver && RTCRtpReceiver.getCapabilities && RTCRtpReceiver.getCapabilities("audio");
    const red = caps ? caps.codecs.filter((c) => /\/red$/i.test(c.mimeType)) : [];
    if (!red.length) return;
    const codecs = red.concat(caps.codecs.filter((c) => !/\/red$/i.test(c.mimeType)));
    for (const transceiver of pc.getTransceivers()) {
      if (transceiver.receiver.track.kind !== "audio" || !transceiver.setCodecPreferences) continue;
      try { transceiver.setCodecPreferences(codecs); } catch (err) { console.warn("no RED for audio", err); }
    }
  }

  // The notice under the picture: reconnecting, the picture paused, offers to go voice-only.
  function notice(text, offerVoice) {
    const box = $("notice");
    if (!box) return;
    box.hidden = !text;
    box.querySelector("span").textContent = text || "";
    $("voice-only").hidden = !(text && offerVoice && !voiceOnly && stream && stream.getVideoTracks().length);
  }

  function goVoiceOnly(tellPeer) {
    voiceOnly = true;
    const track = stream && stream.getVideoTracks()[0];
    if (track) { track.enabled = false; $("camera").setAttribute("aria-pressed", "true"); }
    if (tellPeer) send({ type: "voice_only" });
    notice(say("已改为语音通话（网络太弱）。网络好了可以点「📷」恢复画面。",
               "Switched to voice (the network is too weak). Tap 📷 to bring the picture back."), false);
  }

  function newPeer() {
    if (pc) pc.close();
    pc = new RTCPeerConnection({ iceServers, iceTransportPolicy: icePolicy });
    window.techanCallPeer = pc;  // for the benchmark and the tests
    prev = null;
    restartCloseUp();
    for (const track of stream.getTracks()) {
      if (track.kind === "video") track.contentHint = hd ? "detail" : "motion";
      pc.addTrack(track, stream);
    }
    if (!stream.getVideoTracks().length && wantVideo) pc.addTransceiver("video", { direction: "recvonly" });
    preferRedundantAudio();
    pc.ontrack = (event) => {
      const remote = $("remote");
      if (remote.srcObject !== event.streams[0]) remote.srcObject = event.streams[0] || new MediaStream([event.track]);
    };
    if (cfg.mode === "p2p") pc.onicecandidate = (event) => { if (event.candidate) send({ type: "candidate", candidate: event.candidate.toJSON() }); };
    const peer = pc;
    peer.onconnectionstatechange = () => {
      if (peer !== pc) return;
      window.techanCallState = peer.connectionState;
      if (peer.connectionState === "connected") {
        status("");
        recovered();
        if (!connectedOnce) { connectedOnce = true; send({ type: "connected", ms: Math.round(performance.now() - joinedAt) }); }
      } else if (peer.connectionState === "disconnected" || peer.connectionState === "failed") {
        notice(say("网络不稳，正在重连…", "Network trouble, reconnecting…"));
        // "disconnected" often heals by itself within a second or two; "failed" never does.
        scheduleRecovery(peer.connectionState === "failed" ? 0 : 2500);
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
    if (cfg.mode === "bridge") return offer(false);  // aiortc has no ICE restart: a fresh peer instead
    if (isStaff && pc) { pc.restartIce(); return offer(true); }  // the customer answers the staff's restart
  }

  // Bounded automatic recovery: a try after the delay, then again with growing pauses while not connected.
  function scheduleRecovery(delay) {
    if (ended || recovery.timer) return;
    recovery.timer = setTimeout(async () => {
      recovery.timer = null;
      if (ended || !pc || (pc.connectionState === "connected" && silentFor < 2)) return;  // healthy again
      if (recovery.tries >= MAX_RECOVERY_TRIES) {
        notice(say("网络恢复不了。请检查网络，挂断后重新发起通话。", "The connection could not be restored. Check the network, then hang up and call again."));
        return;
      }
      recovery.tries += 1;
      window.techanCallRecoveries = (window.techanCallRecoveries || 0) + 1;
      await reconnect().catch((err) => console.error(err));
      scheduleRecovery(3000 * recovery.tries);
    }, delay);
  }

  function recovered() {
    clearTimeout(recovery.timer);
    recovery = { tries: 0, timer: null };
    notice(voiceOnly ? $("notice").querySelector("span").textContent : "");
  }

  async function onSignal(message) {
    if (message.type === "joined") {
      iceServers = message.ice_servers || [];
      icePolicy = message.ice_transport_policy === "relay" ? "relay" : "all";
      if (message.rejoin) sessionStorage.setItem("techan-call-" + cfg.call_id, message.rejoin);
      status(message.peer_present || cfg.mode === "bridge" ? say("连接中…", "Connecting…") : (isStaff ? say("等顾客加入…", "Waiting for the customer…") : say("等店员加入…", "Waiting for our staff…")));
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
    } else if (message.type === "peer_joined" && cfg.mode === "bridge" && pc) {
      restartCloseUp();  // the app forwards what we send to the newcomer as it is
      tuneSenders();
    } else if (message.type === "voice_only") {
      if (!voiceOnly) goVoiceOnly(false);
    } else if (message.type === "peer_left") {
      status(isStaff ? say("顾客暂时断开了，等他回来…", "The customer dropped out; waiting for them…") : say("店员暂时断开了，请稍等…", "Our staff dropped out for a moment; please wait…"));
    } else if (message.type === "peer_stats" && isStaff) {
      showStats(say("顾客", "Customer"), message);
    } else if (message.type === "ended") {
      finish(message.reason && message.reason.endsWith("hangup") ? say("通话已结束", "The call has ended") : say("通话已结束（", "The call has ended (") + message.reason + say("）", ")"));
    } else if (message.type === "error") {
      finish(message.error, false);
    }
  }

  function connect(hello) {
    ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/call/" + cfg.call_id);
    ws.onopen = () => { joinedAt = performance.now(); send(hello); };
    ws.onmessage = (event) => { onSignal(JSON.parse(event.data)).catch((err) => console.error(err)); };
    ws.onclose = () => {
      if (ended) return;
      status(say("连接断了，正在重连…", "Connection lost, reconnecting…"));
      const rejoin = sessionStorage.getItem("techan-call-" + cfg.call_id);
      setTimeout(() => connect(isStaff ? { type: "join", role: "staff" } : { type: "join", role: "customer", rejoin }), 2000);
    };
  }

  // Once a second: what this page receives and sends, judged into 好 / 一般 / 差; every third second the
  // sample goes to the app (the staff page shows the customer's, the call's quality summary keeps them).
  async function collectStats() {
    if (!pc) return;
    const report = await pc.getStats();
    const now = performance.now();
    const cur = { at: now, bytes: 0, lost: 0, received: 0, frames: 0, freezes: 0, vLost: 0, vRecv: 0, aLost: 0, aRecv: 0,
                  limited: "none", outBitrate: undefined, rtt: undefined, hasVideo: false };
    const sample = {};
    report.forEach((s) => {
      if (s.type === "candidate-pair" && s.state === "succeeded" && s.nominated !== false && s.currentRoundTripTime !== undefined) {
        cur.rtt = s.currentRoundTripTime * 1000;
        if (s.availableOutgoingBitrate !== undefined) cur.outBitrate = s.availableOutgoingBitrate;
      }
      if (s.type === "inbound-rtp") {
        cur.bytes += s.bytesReceived || 0; cur.lost += s.packetsLost || 0; cur.received += s.packetsReceived || 0;
        if (s.kind === "video") {
          sample.width = s.frameWidth || 0; sample.height = s.frameHeight || 0; sample.fps = s.framesPerSecond || 0; sample.frames = s.framesDecoded || 0;
          cur.frames = s.framesDecoded || 0; cur.freezes = s.freezeCount || 0; cur.vLost = s.packetsLost || 0; cur.vRecv = s.packetsReceived || 0;
          cur.hasVideo = cur.frames > 0;
        } else if (s.kind === "audio") {
          cur.aLost = s.packetsLost || 0; cur.aRecv = s.packetsReceived || 0;
        }
      }
      if (s.type === "outbound-rtp" && s.kind === "video" && s.qualityLimitationReason) cur.limited = s.qualityLimitationReason;
    });
    if (cur.rtt !== undefined) sample.rtt_ms = cur.rtt;
    if (lastBytes) sample.bitrate_kbps = ((cur.bytes - lastBytes.bytes) * 8) / (now - lastBytes.at);
    lastBytes = { bytes: cur.bytes, at: now };
    sample.loss = cur.received + cur.lost ? cur.lost / (cur.received + cur.lost) : 0;
    const before = prev;
    prev = cur;
    if (!before) return;  // judged over a second: from the second sample on
    judge(before, cur, sample);
    window.techanCallStats = sample;  // for tests and for support staff poking at the page
    if (statsTick++ % 3 === 0) {
      send(Object.assign({ type: "stats" }, sample));
      if (isStaff) showStats(say("我方收到", "We receive"), sample);
    }
  }

  // The word is about what this side gets: loss, round trip, the picture it receives (frame rate, size,
  // freezes, pauses). What it sends is judged by the other page, from what arrives there.
  function judge(a, b, sample) {
    const packets = (b.vRecv - a.vRecv) + (b.aRecv - a.aRecv), lost = (b.vLost - a.vLost) + (b.aLost - a.aLost);
    lossWindow = lossWindow.concat([[packets, Math.max(0, lost)]]).slice(-3);  // loss over the last 3 s
    const got = lossWindow.reduce((n, [p]) => n + p, 0), missed = lossWindow.reduce((n, [, l]) => n + l, 0);
    const loss = got + missed > 0 ? missed / (got + missed) : 0;
    const framesNow = b.frames - a.frames, audioFlowing = b.aRecv > a.aRecv;
    // Nothing at all arrives: the network is gone, whatever ICE says yet (Chromium calls a path
    // "disconnected" only after several seconds). After 4 s the P2P offerer restarts ICE.
    silentFor = packets > 0 ? 0 : silentFor + 1;
    const cut = silentFor >= 2 && b.aRecv > 0;
    const paused = b.hasVideo && framesNow === 0 && pc.connectionState === "connected" && !cut;
    const froze = b.freezes > a.freezes;
    const videoIn = b.hasVideo && !paused;
    let level = "good";
    if (pc.connectionState !== "connected" || cut || paused || loss > 0.10 || (b.rtt || 0) > 500 || (videoIn && sample.fps < 8)) level = "poor";
    else if (loss > 0.03 || (b.rtt || 0) > 250 || froze || (videoIn && (sample.fps < 20 || sample.height < 360))) level = "fair";
    recent = recent.concat([level]).slice(-3);  // worse at once, better after three good seconds
    const shown = recent.includes("poor") ? "poor" : recent.includes("fair") ? "fair" : "good";
    const quality = $("quality");
    if (quality) {
      quality.classList.remove("good", "fair", "poor");  // (keeps "badge": the customer's page places it by that)
      quality.classList.add(shown);
      quality.dataset.level = shown;
      quality.textContent = "● " + { good: say("信号好", "Signal: good"), fair: say("信号一般", "Signal: fair"), poor: say("信号差", "Signal: poor") }[shown];
    }
    window.techanCallQuality = { level: shown, loss, rtt_ms: b.rtt, fps: sample.fps, height: sample.height, paused,
                                 limited: b.limited, available_kbps: b.outBitrate / 1000, closeup_scale: hd ? hdScale : null };
    fitCloseUp(b.outBitrate);
    const starved = b.outBitrate !== undefined && b.outBitrate < 200000 && b.limited === "bandwidth";
    if (pc.connectionState !== "connected") return;  // the reconnecting notice stays
    if (cut) {
      notice(say("网络中断，正在重连…", "Network lost, reconnecting…"));
      if (silentFor >= 4 && cfg.mode === "p2p" && isStaff) scheduleRecovery(0);
      return;
    }
    if (silentFor === 0 && recovery.tries) recovered();
    if (paused && audioFlowing) notice(say("画面暂停：网络带宽不够，声音继续", "Video paused: not enough bandwidth, audio continues"), true);
    else if (paused) notice(say("画面暂停，正在等网络…", "Video paused, waiting for the network…"), true);
    else if (starved) notice(say("网络很弱，画面很模糊，可以改为语音通话", "The network is very weak: the picture is blurry; you can switch to voice"), true);
    else if (!voiceOnly) notice("");
  }

  function showStats(who, s) {
    const box = $("stats");
    if (!box) return;
    const line = who + say("：", ": ") + (s.width ? s.width + "×" + s.height + " " : "") + (s.fps ? Math.round(s.fps) + " fps " : "") +
      (s.bitrate_kbps ? Math.round(s.bitrate_kbps) + " kbps " : "") +
      (s.rtt_ms !== undefined ? Math.round(s.rtt_ms) + " ms " : "") + say("丢包 ", "loss ") + ((s.loss || 0) * 100).toFixed(1) + "%";
    let node = box.querySelector('[data-who="' + who + '"]');
    if (!node) { node = document.createElement("dd"); node.dataset.who = who; box.append(node); }
    node.textContent = line;
  }

  // 高清特写: the camera at 1920×1080 (what it can give), 6 Mbps, resolution kept; again for the normal picture.
  async function setCloseUp(on) {
    hd = on;
    hdScale = 1;
    if (toldSmall) { toldSmall = false; status(""); }
    const track = stream && stream.getVideoTracks()[0];
    $("hd").setAttribute("aria-pressed", String(on));
    if (!track) return;
    track.contentHint = on ? "detail" : "motion";
    try {
      await track.applyConstraints({ width: { ideal: cameraSize().width }, height: { ideal: cameraSize().height }, frameRate: { ideal: 30 } });
    } catch (err) {
      status(say("摄像头给不了这个清晰度", "The camera cannot give that resolution"));
    }
    tuneSenders();
    const settings = track.getSettings();
    window.techanCallCamera = { width: settings.width, height: settings.height, hd };
  }

  // ``over``: the call ended (a hang-up, or the shop ended it); otherwise it could not go on here (a refused
  // link, no microphone), and the chat that opened this page keeps its join button.
  function finish(text, over = true) {
    ended = true;
    status(text);
    clearInterval(statsTimer);
    clearTimeout(recovery.timer);
    notice("");
    if (pc) pc.close();
    if (stream) stream.getTracks().forEach((t) => t.stop());
    if (ws) ws.close();
    $("controls").hidden = true;
    // Opened inside the web chat: the chat closes its call panel and marks the link as ended.
    if (window.parent !== window) {
      window.parent.postMessage({ type: over ? "techan-call-ended" : "techan-call-failed" }, location.origin);
    }
  }

  function controls() {
    $("mute").onclick = (e) => { const t = stream.getAudioTracks()[0]; if (!t) return; t.enabled = !t.enabled; e.target.setAttribute("aria-pressed", String(!t.enabled)); };
    $("camera").onclick = (e) => {
      const t = stream.getVideoTracks()[0]; if (!t) return;
      t.enabled = !t.enabled; e.target.setAttribute("aria-pressed", String(!t.enabled));
      if (t.enabled && voiceOnly) { voiceOnly = false; notice(""); }
    };
    if ($("hd")) { $("hd").hidden = !wantVideo; $("hd").onclick = () => setCloseUp(!hd); }
    if ($("voice-only")) $("voice-only").onclick = () => goVoiceOnly(true);
    $("flip").onclick = async () => {
      facing = facing === "environment" ? "user" : "environment";
      const fresh = await navigator.mediaDevices.getUserMedia({ video: { facingMode: facing, width: { ideal: cameraSize().width }, height: { ideal: cameraSize().height } } }).catch(() => null);
      if (!fresh) return;
      const track = fresh.getVideoTracks()[0];
      track.contentHint = hd ? "detail" : "motion";
      const sender = pc && pc.getSenders().find((s) => s.track && s.track.kind === "video");
      if (sender) await sender.replaceTrack(track);
      stream.getVideoTracks().forEach((t) => { t.stop(); stream.removeTrack(t); });
      stream.addTrack(track);
      $("local").srcObject = stream;
    };
    $("flip").hidden = !wantVideo;
    $("hangup").onclick = () => { send({ type: "hangup" }); finish(say("通话已结束", "The call has ended")); };
  }

  async function begin(hello) {
    try {
      stream = await openMedia();
    } catch (err) {
      finish(say("没有拿到麦克风权限，无法通话。请在浏览器设置里允许麦克风，然后重新打开链接。", "No microphone permission, so the call cannot start. Allow the microphone in the browser's settings, then open the link again."), false);
      return;
    }
    $("local").srcObject = stream;
    if (!stream.getVideoTracks().length) $("local").hidden = true;
    $("controls").hidden = false;
    controls();
    connect(hello);
    statsTimer = setInterval(() => collectStats().catch(() => {}), 1000);
  }

  if (isStaff) {
    begin({ type: "join", role: "staff" });
    document.querySelectorAll("button[data-product]").forEach((b) => b.addEventListener("click", () => pushProduct(b.dataset.product)));
    $("push-form").addEventListener("submit", (e) => { e.preventDefault(); pushProduct($("push-id").value.trim()); });
  } else {
    const rejoin = sessionStorage.getItem("techan-call-" + cfg.call_id);
    const fragment = new URLSearchParams(location.hash.slice(1));
    const initData = fragment.get("tgWebAppData") || "";  // Telegram's Mini App: who the customer is there
    const chatPass = fragment.get("chat") || "";  // the web chat's pass: this browser holds the customer's chat
    $("consent-box").addEventListener("submit", (e) => {
      e.preventDefault();
      $("consent-box").hidden = true;
      const consent = !!($("consent") && $("consent").checked);
      begin(rejoin ? { type: "join", role: "customer", rejoin } : { type: "join", role: "customer", token: cfg.token, consent, init_data: initData, chat: chatPass });
    });
  }

  async function pushProduct(id) {
    if (!id) return;
    const csrf = document.querySelector('meta[name="csrf-token"]').content;
    const response = await fetch("/api/conversations/" + cfg.conversation_id + "/products", {
      method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: JSON.stringify({ product: id }) });
    const data = await response.json().catch(() => ({}));
    status(response.ok ? "" : (data.error || say("发送失败", "Could not send")));
  }
})();
