// TTS page: POST /api/synthesize (format=url), play and offer the download link.
const $ = (id) => document.getElementById(id);
$("intensity").oninput = () => { $("intensity-value").textContent = $("intensity").value; };

async function loadVoices() {
  const r = await fetch("/api/voices");
  if (!r.ok) { $("status").textContent = "engine not ready: " + r.status; return; }
  const info = await r.json();
  for (const v of info.voices) $("voice").add(new Option(`${v.name} (${v.language})`, v.name));
  for (const e of info.emotions) $("emotion").add(new Option(e, e));
}

$("speak").onclick = async () => {
  $("status").textContent = "synthesizing…";
  const body = {
    text: $("text").value, emotion: $("emotion").value, voice: $("voice").value,
    intensity: parseFloat($("intensity").value), format: "url",
  };
  const r = await fetch("/api/synthesize", {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
  });
  const res = await r.json();
  if (!r.ok) { $("status").textContent = `error: ${res.error ? res.error.message : r.status}`; return; }
  $("player").src = res.url;
  $("player").play().catch(() => {});
  $("download").href = res.url;
  $("download").hidden = false;
  $("status").textContent = `${res.duration.toFixed(2)} s, ${res.voice}, ${res.emotion}`;
};
loadVoices();
