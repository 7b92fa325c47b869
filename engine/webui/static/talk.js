// Talk page: microphone (getUserMedia + AudioWorklet, echo cancellation on) → /v1/dialog;
// live transcript, emotion, reply text; reply audio played in order; barge-in stops playback.
const $ = (id) => document.getElementById(id);
const RATE_IN = 16000, RATE_OUT = 24000, HEADER = 12;
const state = { events: [], finals: [], replies: [], audioFrames: 0, playedMs: 0, interrupted: 0 };
window.talkState = state;  // inspected by the browser test
let ws = null, micCtx = null, outCtx = null, stream = null, node = null;
let playing = [], playHead = 0, currentReply = -1, replyStart = 0, playbackTimer = null;

async function loadVoices() {
  const r = await fetch("/api/voices");
  if (!r.ok) return;
  for (const v of (await r.json()).voices) $("voice").add(new Option(`${v.name} (${v.language})`, v.name));
}

function log(html, cls) {
  const div = document.createElement("div");
  div.className = "turn " + (cls || "");
  div.textContent = html;
  $("log").appendChild(div);
}

function stopPlayback() {
  for (const src of playing) { try { src.stop(); } catch (e) { /* already ended */ } }
  playing = [];
  if (outCtx) playHead = outCtx.currentTime;
}

function playFrame(buf) {
  const view = new DataView(buf);
  const replyId = view.getUint32(4, true);
  const pcm = new Int16Array(buf, HEADER, (buf.byteLength - HEADER) / 2);
  const f = new Float32Array(pcm.length);
  for (let i = 0; i < pcm.length; i++) f[i] = pcm[i] / 32768;
  const ab = outCtx.createBuffer(1, f.length, RATE_OUT);
  ab.copyToChannel(f, 0);
  const src = outCtx.createBufferSource();
  src.buffer = ab;
  src.connect(outCtx.destination);
  if (replyId !== currentReply) { currentReply = replyId; playHead = outCtx.currentTime + 0.05; replyStart = playHead; }
  playHead = Math.max(playHead, outCtx.currentTime);
  src.start(playHead);
  playHead += ab.duration;
  playing.push(src);
  src.onended = () => { playing = playing.filter((s) => s !== src); };
  state.audioFrames++;
}

function reportPlayback() {
  if (!ws || ws.readyState !== 1 || currentReply < 0 || !outCtx) return;
  const played = Math.max(0, Math.min(outCtx.currentTime, playHead) - replyStart) * 1000;
  state.playedMs = played;
  ws.send(JSON.stringify({ type: "reply.playback", reply_id: currentReply, played_ms: played }));
}

function onEvent(ev) {
  state.events.push(ev.type);
  switch (ev.type) {
    case "session.started": $("status").textContent = `session ${ev.session_id} · voice ${ev.voice}`; break;
    case "speech.started": stopPlayback(); $("partial").textContent = "…"; break;
    case "transcript.partial": $("partial").textContent = ev.text; break;
    case "transcript.final":
      $("partial").textContent = "";
      if (ev.text) { $("final").textContent = ev.text; state.finals.push(ev.text); log("你: " + ev.text); }
      break;
    case "emotion": $("emotion").textContent = `${ev.emotion} (${(ev.confidence * 100).toFixed(0)}%)`; break;
    case "reply.text": $("reply").textContent = ev.text; state.replies.push(ev.text); log("听说: " + ev.text, "bot"); break;
    case "reply.interrupted": stopPlayback(); state.interrupted++; log(`(interrupted after ${ev.played_ms} ms)`); break;
    case "error": $("status").textContent = `error ${ev.code}: ${ev.message}`; break;
    case "session.closed": $("status").textContent = "closed: " + ev.reason; break;
  }
}

async function start() {
  $("start").disabled = true;
  stream = await navigator.mediaDevices.getUserMedia({
    audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 },
  });
  micCtx = new AudioContext({ sampleRate: RATE_IN });
  outCtx = new AudioContext({ sampleRate: RATE_OUT });
  await micCtx.audioWorklet.addModule("/ui/mic-worklet.js");
  const source = micCtx.createMediaStreamSource(stream);
  node = new AudioWorkletNode(micCtx, "mic-capture");
  source.connect(node);
  const proto = location.protocol === "https:" ? "wss" : "ws";
  ws = new WebSocket(`${proto}://${location.host}/v1/dialog`);
  ws.binaryType = "arraybuffer";
  ws.onopen = () => {
    ws.send(JSON.stringify({
      type: "session.start", token: window.TINGSHUO_TOKEN || "", sample_rate_in: RATE_IN,
      sample_rate_out: RATE_OUT, voice: $("voice").value, emotion_policy: $("policy").value,
    }));
    node.port.onmessage = (e) => {
      if (ws.readyState !== 1) return;
      const f = e.data, pcm = new Int16Array(f.length);
      for (let i = 0; i < f.length; i++) pcm[i] = Math.max(-32768, Math.min(32767, Math.round(f[i] * 32768)));
      ws.send(pcm.buffer);
    };
    playbackTimer = setInterval(reportPlayback, 250);
    $("stop").disabled = false;
  };
  ws.onmessage = (m) => { if (typeof m.data === "string") onEvent(JSON.parse(m.data)); else playFrame(m.data); };
  ws.onclose = () => { $("status").textContent += " · disconnected"; stop(); };
}

function stop() {
  if (playbackTimer) clearInterval(playbackTimer);
  if (ws && ws.readyState === 1) ws.send(JSON.stringify({ type: "session.close", reason: "user stopped" }));
  if (stream) stream.getTracks().forEach((t) => t.stop());
  if (micCtx) micCtx.close();
  stream = null; micCtx = null;
  $("start").disabled = false; $("stop").disabled = true;
}

$("start").onclick = () => start().catch((e) => { $("status").textContent = "microphone: " + e; $("start").disabled = false; });
$("stop").onclick = stop;
loadVoices();
