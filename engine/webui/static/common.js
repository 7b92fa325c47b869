// Shared by the Talk and Studio pages: emotion names/colours, voice facts, banners, errors.
// Server fields are read defensively: events and voices may gain fields (e.g. `uncertain`,
// `gender`) or lack them.
(function () {
  "use strict";
  const EMOTIONS = {  // value on the wire → [中文, English, CSS colour variable]
    neutral: ["平静", "neutral", "--e-neutral"],
    happy: ["开心", "happy", "--e-happy"],
    angry: ["生气", "angry", "--e-angry"],
    sad: ["难过", "sad", "--e-sad"],
    fear: ["害怕", "afraid", "--e-fear"],
    hate: ["厌恶", "disgust", "--e-hate"],  // Sambert's name for disgust
    surprise: ["惊讶", "surprised", "--e-surprise"],
  };
  // Rough valence for the trajectory chart (−1 unpleasant … +1 pleasant).
  const VALENCE = { happy: 1, surprise: 0.4, neutral: 0, fear: -0.5, sad: -0.6, hate: -0.8, angry: -1 };
  const LANGUAGES = {
    zh: ["普通话", "Mandarin"], cmn: ["普通话", "Mandarin"], yue: ["粤语", "Cantonese"],
    en: ["英语", "English"], "en-us": ["美式英语", "US English"], "en-gb": ["英式英语", "UK English"],
    ja: ["日语", "Japanese"], ko: ["韩语", "Korean"], fr: ["法语", "French"], es: ["西班牙语", "Spanish"],
  };
  const KOKORO_LANG = { z: "zh", a: "en-us", b: "en-gb", j: "ja", e: "es", f: "fr" };

  function emotionLabel(name, labels) {
    const fromServer = labels && labels[name];
    if (fromServer && fromServer.zh) return `${fromServer.zh} ${fromServer.en || ""}`.trim();
    const e = EMOTIONS[name];
    return e ? `${e[0]} ${e[1]}` : String(name || "?");
  }
  function emotionColour(name) {
    const e = EMOTIONS[name];
    return `var(${e ? e[2] : "--e-neutral"})`;
  }
  function voiceLanguage(v) {
    let lang = String(v.language || v.lang || "").toLowerCase();
    const m = /^([a-z])[fm]_/.exec(v.name || "");  // Kokoro names: language letter, gender letter
    if (m && KOKORO_LANG[m[1]] && (!lang || lang === "ja")) lang = KOKORO_LANG[m[1]] || lang;
    return lang;
  }
  function isMandarin(v) {
    const lang = voiceLanguage(v);
    return lang === "zh" || lang.startsWith("zh-") || lang === "cmn" || lang.startsWith("cmn");
  }
  function languageLabel(v) {
    const lang = voiceLanguage(v);
    const l = LANGUAGES[lang] || LANGUAGES[lang.split("-")[0]];
    return l ? `${l[0]} ${l[1]}` : (lang || "?");
  }
  function voiceGender(v) {
    const g = String(v.gender || "").toLowerCase();
    if (g.startsWith("f") || g === "女") return "female";
    if (g.startsWith("m") || g === "男") return "male";
    const m = /^[a-z]([fm])_/.exec(v.name || "");
    return m ? (m[1] === "f" ? "female" : "male") : "";
  }
  function genderLabel(v) {
    const g = voiceGender(v);
    return g === "female" ? "女声 Female" : g === "male" ? "男声 Male" : "";
  }
  /** Mandarin voices first, keeping the server's order (default first) otherwise. */
  function sortVoices(voices) {
    return voices.map((v, i) => [v, i]).sort((a, b) =>
      (isMandarin(b[0]) - isMandarin(a[0])) || (a[1] - b[1])).map((p) => p[0]);
  }
  /** The message of a JSON error body `{"error": {"code", "message"}}`, else the status. */
  async function errorText(r) {
    try {
      const body = await r.json();
      if (body && body.error) return `${body.error.message || body.error.code} (${body.error.code || r.status})`;
    } catch (e) { /* not JSON */ }
    return `HTTP ${r.status}`;
  }
  function banner(id, kind, text) {
    const el = document.getElementById(id);
    if (!el) return;
    el.className = "banner " + kind;
    el.hidden = !text;
    el.textContent = text || "";
  }
  function showAuthNeeded() {
    const el = document.getElementById("auth-banner");
    if (!el) return;
    el.hidden = false;
    el.replaceChildren();
    const p = document.createElement("span");
    p.textContent = "需要 API 密钥：此引擎开启了鉴权。 API key required: this engine has authentication on. ";
    const b = document.createElement("button");
    b.type = "button";
    b.className = "secondary";
    b.textContent = "输入密钥 Enter key";
    b.onclick = async () => { if (window.tingshuoLogin && await window.tingshuoLogin()) location.reload(); };
    el.append(p, b);
  }
  window.addEventListener("tingshuo:auth", showAuthNeeded);

  // GET /api/voices for a page: its JSON, or null after showing why in the page's banner
  // (a 401 is explained by the auth banner instead).
  async function fetchVoices() {
    const r = await fetch("/api/voices");
    if (!r.ok) {
      if (r.status !== 401) banner("banner", "error", `引擎未就绪 Engine not ready: ${await errorText(r)}`);
      return null;
    }
    return r.json();
  }

  window.TS = {
    EMOTIONS, VALENCE, emotionLabel, emotionColour, isMandarin, languageLabel, voiceGender,
    genderLabel, sortVoices, errorText, banner, showAuthNeeded, fetchVoices,
  };
})();
