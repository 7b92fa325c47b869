// Talk page: microphone (getUserMedia + AudioWorklet, echo cancellation on) → /v1/dialog.
// The conversation is a list of messages (user turns with their detected emotion, assistant
// turns with the emotion they were spoken in, latency and barge-in marks); the page shows the
// dialogue state, a mic level meter and the emotion trajectory, and reconnects a dropped
// socket without clearing what is shown. Protocol: docs/protocol.md.
"use strict";
const $ = (id) => document.getElementById(id);
const RATE_IN = 16000, RATE_OUT = 24000, HEADER = 12;
const STATES = {
  idle: "空闲 Idle", connecting: "连接中 Connecting", listening: "聆听 Listening",
  thinking: "思考 Thinking", speaking: "说话 Speaking", interrupted: "被打断 Interrupted",
  reconnecting: "重新连接 Reconnecting",
};
// Inspected by the browser tests: what arrived and what was shown.
const state = {
  events: [], finals: [], replies: [], audioFrames: 0, playedMs: 0, interrupted: 0,
  states: [], latencies: [], emotions: [], sessions: 0, maxLevel: 0, handoff: false,
  partials: [], settings: null,
};
window.talkState = state;

let ws = null, micCtx = null, outCtx = null, stream = null, node = null, timer = null;
let running = false, sessionNo = 0, retry = 0, reconnectTimer = null, uiState = "idle";
let playing = [], playHead = 0, currentReply = "", replyStart = 0;
let endOfSpeechAt = null, labels = null, live = null;
const msgs = new Map();      // "session:u3" / "session:r2" → <li>
const firstAudio = new Set(); // reply keys whose first frame arrived
const done = new Set();       // reply keys whose reply.done arrived

function setState(s) {
  if (s === uiState) return;
  uiState = s;
  $("state").dataset.state = s;
  $("state").textContent = STATES[s] || s;
  state.states.push(s);
  if (s === "interrupted") setTimeout(() => { if (uiState === "interrupted") setState("listening"); }, 2500);
}

// ---- messages ----
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}
function addMessage(kind, who) {
  const empty = $("empty");
  if (empty) empty.remove();
  const li = el("li", "msg " + kind);
  li.append(el("div", "who", who), el("div", "text"), el("div", "meta"));
  $("conversation").append(li);
  li.scrollIntoView({ block: "nearest" });
  return li;
}
function replyMessage(ev) {  // the reply's bubble, made on its first event
  let li = msgs.get(key("r", ev.reply_id));
  if (li) return li;
  li = addMessage("bot", "听说 Assistant");
  li.dataset.reply = ev.reply_id;
  msgs.set(key("r", ev.reply_id), li);
  const spoken = tag(`语气 ${TS.emotionLabel(ev.emotion, labels)} ×${Number(ev.intensity ?? 1).toFixed(1)}`,
    "reply-emotion", TS.emotionColour(ev.emotion));
  spoken.title = "回复所用的情绪 Emotion the reply is spoken in";
  li.querySelector(".meta").append(spoken);
  return li;
}
function liveMessage() {
  if (!live) {
    live = addMessage("user live", "你（正在说）You (speaking)");
    live.querySelector(".text").textContent = "…";
  }
  return live;
}
function tag(text, cls, colour) {
  const t = el("span", "tag" + (cls ? " " + cls : ""), text);
  if (colour) t.style.background = colour;
  return t;
}
const key = (kind, id) => `${sessionNo}:${kind}${id}`;
const pct = (x) => `${Math.round(Number(x || 0) * 100)}%`;

// ---- playback ----
function stopPlayback() {
  for (const src of playing) { try { src.stop(); } catch (e) { /* already ended */ } }
  playing = [];
  if (outCtx) playHead = outCtx.currentTime;
}

function playFrame(buf) {
  const view = new DataView(buf);
  const k = key("r", view.getUint32(4, true));
  if (!firstAudio.has(k)) {
    firstAudio.add(k);
    if (endOfSpeechAt !== null) {
      const ms = Math.round(performance.now() - endOfSpeechAt);
      endOfSpeechAt = null;
      state.latencies.push(ms);
      const li = msgs.get(k);
      if (li) li.querySelector(".meta").append(el("span", "latency", `首音延迟 latency ${(ms / 1000).toFixed(2)} s`));
      $("stat-latency").textContent = `${ms} ms`;
      const mean = state.latencies.reduce((a, b) => a + b, 0) / state.latencies.length;
      $("stat-latency-mean").textContent = `${Math.round(mean)} ms`;
    }
  }
  const pcm = new Int16Array(buf, HEADER, (buf.byteLength - HEADER) / 2);
  const f = new Float32Array(pcm.length);
  for (let i = 0; i < pcm.length; i++) f[i] = pcm[i] / 32768;
  const ab = outCtx.createBuffer(1, f.length, RATE_OUT);
  ab.copyToChannel(f, 0);
  const src = outCtx.createBufferSource();
  src.buffer = ab;
  src.connect(outCtx.destination);
  if (k !== currentReply) { currentReply = k; playHead = outCtx.currentTime + 0.05; replyStart = playHead; }
  playHead = Math.max(playHead, outCtx.currentTime);
  src.start(playHead);
  playHead += ab.duration;
  playing.push(src);
  src.onended = () => { playing = playing.filter((s) => s !== src); };
  state.audioFrames++;
  setState("speaking");
}

function tick() {
  if (!outCtx || !currentReply) return;
  const played = Math.max(0, Math.min(outCtx.currentTime, playHead) - replyStart) * 1000;
  state.playedMs = Math.max(state.playedMs, played);
  const replyId = Number(currentReply.split(":r")[1]);
  if (ws && ws.readyState === 1 && currentReply.startsWith(sessionNo + ":")) {
    ws.send(JSON.stringify({ type: "reply.playback", reply_id: replyId, played_ms: played }));
  }
  if (uiState === "speaking" && done.has(currentReply) && outCtx.currentTime >= playHead) setState("listening");
}

// ---- emotion trajectory ----
function drawChart() {
  const svg = $("chart"), ns = "http://www.w3.org/2000/svg";
  svg.querySelectorAll(":not(desc)").forEach((n) => n.remove());
  const mid = document.createElementNS(ns, "line");
  Object.entries({ x1: 0, x2: 300, y1: 60, y2: 60, stroke: "#c3c9d2", "stroke-dasharray": "4 4" })
    .forEach(([a, v]) => mid.setAttribute(a, v));
  svg.append(mid);
  const pts = state.emotions.slice(-20);
  const step = pts.length > 1 ? 280 / (pts.length - 1) : 0;
  const xy = pts.map((p, i) => [10 + i * step, 60 - (TS.VALENCE[p.emotion] || 0) * Math.max(0.3, p.confidence) * 50]);
  if (xy.length > 1) {
    const line = document.createElementNS(ns, "polyline");
    line.setAttribute("points", xy.map((p) => p.join(",")).join(" "));
    line.setAttribute("fill", "none");
    line.setAttribute("stroke", "#8a94a3");
    line.setAttribute("stroke-width", "2");
    svg.append(line);
  }
  pts.forEach((p, i) => {
    const c = document.createElementNS(ns, "circle");
    c.setAttribute("cx", xy[i][0]);
    c.setAttribute("cy", xy[i][1]);
    c.setAttribute("r", "6");
    const colour = getComputedStyle(document.documentElement).getPropertyValue(TS.EMOTIONS[p.emotion] ? TS.EMOTIONS[p.emotion][2] : "--e-neutral");
    c.setAttribute("fill", p.uncertain ? "#fff" : colour);
    c.setAttribute("stroke", colour);
    c.setAttribute("stroke-width", "2");
    const title = document.createElementNS(ns, "title");
    title.textContent = `${TS.emotionLabel(p.emotion, labels)} ${pct(p.confidence)}`;
    c.append(title);
    svg.append(c);
  });
}
function drawLegend() {
  for (const name of Object.keys(TS.EMOTIONS)) {
    const s = el("span", "", TS.emotionLabel(name, labels));
    s.style.setProperty("--c", TS.emotionColour(name));
    $("legend").append(s);
  }
}

// ---- protocol events ----
function onEvent(ev) {
  state.events.push(ev.type);
  switch (ev.type) {
    case "session.started":
      state.sessions++;
      state.settings = { voice: ev.voice, emotion_policy: ev.emotion_policy };
      retry = 0;
      $("stat-session").textContent = String(ev.session_id || "").slice(0, 8) || "✓";
      TS.banner("banner", "info", "");
      setState("listening");
      break;
    case "speech.started":
      if (uiState === "speaking" || playing.length) {  // barge-in: stop talking at once
        stopPlayback();
        setState("interrupted");
      } else if (uiState !== "interrupted") {
        setState("listening");
      }
      liveMessage();
      break;
    case "transcript.partial":
      liveMessage().querySelector(".text").textContent = ev.text || "…";
      state.partials.push(live.querySelector(".text").textContent);
      break;
    case "speech.stopped":
      endOfSpeechAt = performance.now();
      setState("thinking");
      break;
    case "transcript.final": {
      const text = String(ev.text || "").trim();
      if (!text) {
        if (live) { live.remove(); live = null; }
        if (uiState === "thinking") setState("listening");
        break;
      }
      const li = liveMessage();
      live = null;
      li.classList.remove("live");
      li.querySelector(".who").textContent = "你 You";
      li.querySelector(".text").textContent = text;
      li.dataset.utterance = ev.utterance_id;
      msgs.set(key("u", ev.utterance_id), li);
      state.finals.push(text);
      $("stat-turns").textContent = String(state.finals.length);
      break;
    }
    case "emotion": {
      const li = msgs.get(key("u", ev.utterance_id));
      const uncertain = Boolean(ev.uncertain);
      const confidence = Number(ev.confidence || 0);
      state.emotions.push({ emotion: ev.emotion, confidence, uncertain });
      if (li) {
        const label = `${TS.emotionLabel(ev.emotion, labels)} · ${pct(confidence)}`;
        const t = uncertain
          ? tag(`${label} · 不确定 uncertain`, "uncertain emotion")
          : tag(label, "emotion", TS.emotionColour(ev.emotion));
        if (uncertain) t.style.borderColor = TS.emotionColour(ev.emotion);
        t.dataset.emotion = ev.emotion;
        t.title = "检测到的情绪 Detected emotion";
        li.querySelector(".meta").append(t);
      }
      drawChart();
      break;
    }
    case "reply.text.delta": {  // a streamed reply: its text as it is generated
      const li = replyMessage(ev);
      li.querySelector(".text").textContent += String(ev.delta || "");
      li.scrollIntoView({ block: "nearest" });
      break;
    }
    case "reply.text": {  // the whole text: first (synthesized replies) or after the deltas
      const li = replyMessage(ev);
      li.querySelector(".text").textContent = ev.text;
      if (ev.handoff) {
        state.handoff = true;
        li.querySelector(".meta").append(tag("转人工 handoff", "handoff"));
        $("handoff-text").textContent = ev.text;
        $("handoff").hidden = false;
      }
      state.replies.push(ev.text);
      break;
    }
    case "reply.done":
      done.add(key("r", ev.reply_id));
      break;
    case "reply.interrupted": {
      stopPlayback();
      state.interrupted++;
      $("stat-cuts").textContent = String(state.interrupted);
      const li = msgs.get(key("r", ev.reply_id));
      if (li) {
        li.classList.add("cut");
        const heard = String(ev.heard_text || "");
        const full = li.querySelector(".text").textContent;
        if (full.startsWith(heard)) {
          const rest = el("span", "unheard", full.slice(heard.length));
          rest.title = "未播出 not heard";
          li.querySelector(".text").replaceChildren(document.createTextNode(heard), rest);
        }
        li.querySelector(".meta").append(
          tag(`被打断 interrupted · 已播 ${(Number(ev.played_ms || 0) / 1000).toFixed(1)} s played`, "cut"));
      }
      setState("interrupted");
      break;
    }
    case "error":
      if (String(ev.code || "").startsWith("auth.") || ev.code === "unauthorized") {
        running = false;
        TS.showAuthNeeded();
      } else {
        TS.banner("banner", "error", `错误 Error: ${ev.message || ev.code} (${ev.code})`);
      }
      break;
    case "session.closed":
      TS.banner("banner", "info", `会话结束 Session closed: ${ev.reason || ""}`);
      break;
  }
}

// ---- connection ----
function connect() {
  clearTimeout(reconnectTimer);
  sessionNo++;
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const sock = new WebSocket(`${proto}://${location.host}/v1/dialog`);
  ws = sock;
  sock.binaryType = "arraybuffer";
  sock.onopen = () => {
    sock.send(JSON.stringify({
      type: "session.start", token: window.TINGSHUO_TOKEN || "", sample_rate_in: RATE_IN,
      sample_rate_out: RATE_OUT, voice: $("voice").value, emotion_policy: $("policy").value,
    }));
  };
  sock.onmessage = (m) => {
    if (sock !== ws) return;
    if (typeof m.data === "string") onEvent(JSON.parse(m.data)); else playFrame(m.data);
  };
  sock.onclose = () => {
    if (sock !== ws) return;
    stopPlayback();
    if (live) { live.remove(); live = null; }
    if (!running) { setState("idle"); return; }
    setState("reconnecting");  // the conversation shown stays; a new session continues it
    const delay = Math.min(8000, 300 * 2 ** retry++);
    reconnectTimer = setTimeout(connect, delay);
  };
}

async function start() {
  $("start").disabled = true;
  TS.banner("banner", "info", "");
  setState("connecting");
  stream = await navigator.mediaDevices.getUserMedia({
    audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 },
  });
  micCtx = new AudioContext({ sampleRate: RATE_IN });
  outCtx = outCtx || new AudioContext({ sampleRate: RATE_OUT });
  await micCtx.audioWorklet.addModule("/ui/mic-worklet.js");
  node = new AudioWorkletNode(micCtx, "mic-capture");
  micCtx.createMediaStreamSource(stream).connect(node);
  node.port.onmessage = (e) => {
    const f = e.data, pcm = new Int16Array(f.length);
    let sum = 0;
    for (let i = 0; i < f.length; i++) {
      sum += f[i] * f[i];
      pcm[i] = Math.max(-32768, Math.min(32767, Math.round(f[i] * 32768)));
    }
    const dbfs = 10 * Math.log10(sum / f.length + 1e-12);
    const level = Math.max(0, Math.min(1, (dbfs + 60) / 60));  // −60 dBFS … 0 dBFS
    $("level").value = level;
    state.maxLevel = Math.max(state.maxLevel, level);
    if (ws && ws.readyState === 1) ws.send(pcm.buffer);
  };
  running = true;
  connect();
  timer = setInterval(tick, 250);
  $("stop").disabled = false;
}

function stop() {
  running = false;
  clearTimeout(reconnectTimer);
  if (timer) clearInterval(timer);
  if (ws && ws.readyState === 1) ws.send(JSON.stringify({ type: "session.close", reason: "user stopped" }));
  if (ws) ws.close();
  stopPlayback();
  if (stream) stream.getTracks().forEach((t) => t.stop());
  if (micCtx) micCtx.close();
  stream = null; micCtx = null;
  $("level").value = 0;
  setState("idle");
  $("start").disabled = false; $("stop").disabled = true;
}

function settingsChanged() {
  if (running && ws) { retry = 0; ws.close(4001, "settings changed"); }  // reconnects with them
}

async function loadVoices() {
  const info = await TS.fetchVoices();
  if (!info) return;
  labels = info.emotion_labels || null;
  for (const v of TS.sortVoices(info.voices || [])) {
    const facts = [TS.languageLabel(v), TS.genderLabel(v)].filter(Boolean).join(" · ");
    $("voice").add(new Option(`${v.name} — ${facts}`, v.name));
  }
  $("legend").replaceChildren();
  drawLegend();
}

$("start").onclick = () => start().catch((e) => {
  TS.banner("banner", "error", `无法使用麦克风 Microphone unavailable: ${e.message || e}`);
  setState("idle");
  $("start").disabled = false;
});
$("stop").onclick = stop;
$("voice").onchange = settingsChanged;
$("policy").onchange = settingsChanged;
window.talkDebug = { dropSocket: () => ws && ws.close(4000, "test: dropped") };
drawLegend();
drawChart();
loadVoices();
