// Voice studio: voices as cards (Mandarin first, preview), emotion/intensity/speed, plain text
// or SSML. Short texts go to POST /api/synthesize (a download URL); long ones to POST /api/jobs
// with a progress bar. Every result is kept in the history with play and download, and the
// same request is shown as curl / Python.
"use strict";
const $ = (id) => document.getElementById(id);
const LONG = 300;  // characters: above this the studio uses the jobs API
const SAMPLE = "您好，我是您的语音助手，很高兴为您服务。";
const studio = { history: [], previews: 0, jobs: 0 };  // inspected by the browser test
window.studioState = studio;
let labels = null, previewAudio = null;

function voice() {
  const checked = document.querySelector('input[name="voice"]:checked');
  return checked ? checked.value : "";
}
function mode() { return document.querySelector('input[name="mode"]:checked').value; }
function request() {
  return {
    text: $("text").value, emotion: $("emotion").value, intensity: parseFloat($("intensity").value),
    voice: voice(), speed: parseFloat($("speed").value),
  };
}
function status(text) { $("status").textContent = text; }

// ---- voices ----
function voiceCard(v, i) {
  const card = document.createElement("div");
  card.className = "voice-card";
  const id = "voice-" + i;
  const label = document.createElement("label");
  label.htmlFor = id;
  const input = document.createElement("input");
  Object.assign(input, { type: "radio", name: "voice", id, value: v.name, checked: i === 0 });
  input.onchange = updateSnippet;
  const text = document.createElement("span");
  const name = document.createElement("span");
  name.className = "name";
  name.textContent = v.name;
  const facts = document.createElement("span");
  facts.className = "facts";
  facts.textContent = [TS.languageLabel(v), TS.genderLabel(v), v.description].filter(Boolean).join(" · ");
  text.append(name, facts);
  label.append(input, text);
  const preview = document.createElement("button");
  preview.type = "button";
  preview.className = "secondary preview";
  preview.textContent = "▶ 试听 Preview";
  preview.setAttribute("aria-label", `试听 Preview ${v.name}`);
  preview.onclick = () => previewVoice(v.name, preview);
  card.append(label, preview);
  return card;
}

async function previewVoice(name, button) {
  button.disabled = true;
  try {
    const r = await fetch("/api/synthesize", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ text: SAMPLE, voice: name, format: "url" }),
    });
    if (!r.ok) { status(`试听失败 Preview failed: ${await TS.errorText(r)}`); return; }
    if (previewAudio) previewAudio.pause();
    previewAudio = new Audio((await r.json()).url);
    previewAudio.play().catch(() => {});
    studio.previews++;
  } finally {
    button.disabled = false;
  }
}

async function loadVoices() {
  const info = await TS.fetchVoices();
  if (!info) return;
  labels = info.emotion_labels || null;
  TS.sortVoices(info.voices || []).forEach((v, i) => $("voices").append(voiceCard(v, i)));
  for (const e of info.emotions || Object.keys(TS.EMOTIONS)) $("emotion").add(new Option(TS.emotionLabel(e, labels), e));
  updateSnippet();
}

// ---- synthesis ----
function addHistory(req, url, duration, filename) {
  const li = document.createElement("li");
  const what = document.createElement("div");
  what.className = "what";
  what.textContent = `${req.voice || "default"} · ${TS.emotionLabel(req.emotion, labels)} ×${req.intensity.toFixed(1)} · ${req.speed.toFixed(1)}× · ${duration.toFixed(2)} s`;
  const text = document.createElement("div");
  text.textContent = req.text.length > 60 ? req.text.slice(0, 60) + "…" : req.text;
  const audio = document.createElement("audio");
  audio.controls = true;
  audio.preload = "none";
  audio.src = url;
  audio.setAttribute("aria-label", "播放 Play: " + text.textContent);
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  link.className = "download";
  link.textContent = "下载 Download";
  li.append(text, what, audio, link);
  $("history").prepend(li);
  $("history-empty").hidden = true;
  studio.history.push({ url, duration, voice: req.voice, emotion: req.emotion });
}

function show(url, filename) {
  $("player").src = url;
  $("player").play().catch(() => {});
  $("download").href = url;
  $("download").download = filename;
  $("download").hidden = false;
}

async function synthesizeShort(req) {
  const r = await fetch("/api/synthesize", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify(Object.assign({}, req, { format: "url" })),
  });
  if (!r.ok) { status(`错误 Error: ${await TS.errorText(r)}`); return; }
  const res = await r.json();
  const filename = `tingshuo-${res.id.slice(0, 8)}.wav`;
  show(res.url, filename);
  addHistory(req, res.url, res.duration, filename);
  status(`完成 Done: ${res.duration.toFixed(2)} s, ${res.voice}, ${res.emotion}`);
}

async function synthesizeLong(req) {
  $("job").hidden = false;
  $("progress").value = 0;
  const r = await fetch("/api/jobs", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(req),
  });
  if (!r.ok) { status(`错误 Error: ${await TS.errorText(r)}`); return; }
  let job = await r.json();
  studio.jobs++;
  while (job.status === "queued" || job.status === "running") {
    status(`后台合成中 Job ${job.status}: ${Math.round(job.progress * 100)}%`);
    $("progress").value = job.progress;
    await new Promise((res) => setTimeout(res, 400));
    const p = await fetch(`/api/jobs/${job.id}`);
    if (!p.ok) { status(`错误 Error: ${await TS.errorText(p)}`); return; }
    job = await p.json();
  }
  $("progress").value = job.progress;
  if (job.status !== "done") { status(`任务失败 Job failed: ${job.error || job.status}`); return; }
  // The result needs the key/token, so fetch it (auth.js adds the header) and play a blob.
  const audio = await fetch(new URL(job.result_url).pathname);
  if (!audio.ok) { status(`错误 Error: ${await TS.errorText(audio)}`); return; }
  const url = URL.createObjectURL(await audio.blob());
  const filename = `tingshuo-${job.id.slice(-8)}.wav`;
  show(url, filename);
  addHistory(req, url, job.duration || 0, filename);
  status(`完成 Done (job): ${(job.duration || 0).toFixed(2)} s`);
}

$("speak").onclick = async () => {
  const req = request();
  $("speak").disabled = true;
  status("合成中… Synthesizing…");
  try {
    await (req.text.length > LONG ? synthesizeLong(req) : synthesizeShort(req));
  } catch (e) {
    status(`错误 Error: ${e.message || e}`);
  } finally {
    $("speak").disabled = false;
  }
};

// ---- inputs, SSML, code ----
function updateCount() { $("count").textContent = String($("text").value.length); }
function setMode() {
  const text = $("text").value.trim();
  if (mode() === "ssml" && !text.startsWith("<")) {
    $("text").value = `<speak>\n  <emotion category="${$("emotion").value || "neutral"}" intensity="1.0">${text}</emotion>\n  <break time="300ms"/>\n  <prosody rate="0.9">谢谢。</prosody>\n</speak>`;
  } else if (mode() === "text" && text.startsWith("<")) {
    $("text").value = text.replace(/<[^>]*>/g, "").replace(/\s+/g, " ").trim();
  }
  updateCount();
  updateSnippet();
}

function updateSnippet() {
  const req = request();
  const base = location.origin;
  const auth = Boolean(window.TINGSHUO_TOKEN);
  const body = Object.assign({}, req, { format: "wav" });
  let code;
  if (document.querySelector('input[name="lang"]:checked').value === "curl") {
    const json = JSON.stringify(body).replace(/'/g, "'\\''");
    code = [
      `curl -sS -X POST ${base}/api/synthesize \\`,
      `  -H "Content-Type: application/json" \\`,
      auth ? `  -H "Authorization: Bearer $TINGSHUO_API_KEY" \\` : null,
      `  -d '${json}' \\`,
      `  -o speech.wav`,
    ].filter((l) => l !== null).join("\n");
  } else {
    code = [
      "import httpx",
      auth ? "import os" : null,
      "",
      `body = ${JSON.stringify(body, null, 4)}`,
      `r = httpx.post("${base}/api/synthesize", json=body, timeout=120${auth ? ',\n               headers={"Authorization": "Bearer " + os.environ["TINGSHUO_API_KEY"]}' : ""})`,
      "r.raise_for_status()  # errors are {\"error\": {\"code\", \"message\"}}",
      'with open("speech.wav", "wb") as fh:',
      "    fh.write(r.content)",
    ].filter((l) => l !== null).join("\n");
  }
  $("snippet").textContent = code;
}

$("copy").onclick = async () => {
  try {
    await navigator.clipboard.writeText($("snippet").textContent);
    $("copied").textContent = "已复制 Copied";
  } catch (e) {  // no clipboard permission: select the text for Ctrl+C
    const range = document.createRange();
    range.selectNodeContents($("snippet"));
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    $("copied").textContent = "已选中，按 Ctrl+C 复制 Selected: press Ctrl+C";
  }
};
$("intensity").oninput = () => { $("intensity-value").textContent = parseFloat($("intensity").value).toFixed(1); updateSnippet(); };
$("speed").oninput = () => { $("speed-value").textContent = parseFloat($("speed").value).toFixed(1) + "×"; updateSnippet(); };
$("text").oninput = () => { updateCount(); updateSnippet(); };
$("emotion").onchange = updateSnippet;
document.querySelectorAll('input[name="mode"]').forEach((r) => { r.onchange = setMode; });
document.querySelectorAll('input[name="lang"]').forEach((r) => { r.onchange = updateSnippet; });
$("long-limit").textContent = String(LONG);
updateCount();
updateSnippet();
loadVoices();
