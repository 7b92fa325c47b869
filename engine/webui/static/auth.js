// WebUI side of docs/security.md: with security.auth on, the pages hold only a short-lived
// token. On the first 401 the user is asked once for an API key, which is sent to
// POST /api/token and then forgotten; the token (sessionStorage) authorizes fetch() calls and
// the session.start of the Talk page, and is renewed (with itself) before it expires.
// With auth off nothing here is ever triggered.
(function () {
  "use strict";
  const STORE = "tingshuo_token";
  const realFetch = window.fetch.bind(window);
  let renewTimer = null;

  function saved() {
    try {
      const t = JSON.parse(sessionStorage.getItem(STORE) || "null");
      if (t && t.expires_at * 1000 > Date.now() + 5000) return t;
    } catch (e) { /* ignore a corrupt entry */ }
    return null;
  }

  function keep(t) {
    sessionStorage.setItem(STORE, JSON.stringify(t));
    clearTimeout(renewTimer);
    const inMs = Math.max(5000, (t.expires_in - 30) * 1000);
    renewTimer = setTimeout(() => trade({ Authorization: "Bearer " + t.token }), inMs);
    return t.token;
  }

  async function trade(headers) {
    const r = await realFetch("/api/token", { method: "POST", headers });
    if (!r.ok) { sessionStorage.removeItem(STORE); return ""; }
    return keep(await r.json());
  }

  async function login() {
    const key = window.prompt("API key (traded for a short-lived token; not stored)");
    return key ? trade({ "X-API-Key": key.trim() }) : "";
  }

  function withToken(opts, token) {
    const o = Object.assign({}, opts || {});
    o.headers = Object.assign({}, (opts && opts.headers) || {});
    if (token) o.headers.Authorization = "Bearer " + token;
    return o;
  }

  window.fetch = async function (url, opts) {
    const sameOrigin = typeof url === "string" && url.startsWith("/");
    const t = saved();
    let r = await realFetch(url, sameOrigin ? withToken(opts, t && t.token) : opts);
    if (r.status === 401 && sameOrigin) {
      const token = await login();
      if (token) r = await realFetch(url, withToken(opts, token));
      if (r.status === 401) {
        // The page shows this (common.js): the engine needs a key and we have none that works.
        window.dispatchEvent(new CustomEvent("tingshuo:auth", {
          detail: { missing: !token, message: token ? "" : "no key given" },
        }));
      }
    }
    return r;
  };

  // Lets a page ask again (the "enter key" button of the auth banner).
  window.tingshuoLogin = login;

  // talk.js reads this when it sends session.start.
  Object.defineProperty(window, "TINGSHUO_TOKEN", {
    get() { const t = saved(); return t ? t.token : ""; },
    configurable: true,
  });

  const t = saved();
  if (t) keep(t);
})();
