/* The sandbox's stand-in for Jimeng's page security SDK (bdms / sdk-glue / secsdk runtime).
 *
 * Like the real one (protocol update 2.2-2.3, 2.6) it defines `window.bdms.init`,
 * `window._SdkGlueInit` and `window.byted_acrawler`, and once initialised it replaces
 * `window.fetch`: for a URL whose path is in the configured `paths` it appends `msToken`
 * (localStorage `xmst`) and then the signatures to the end of the query, leaving the body and
 * the headers untouched. CN calls (aid 513695) get `a_bogus`; abroad (aid 513641) `X-Bogus` and
 * `X-Gnarly`. Each signature is an HMAC over the query so far, the exact body bytes and the
 * User-Agent (sandbox/shark.py checks them). The keys below are filled in by sandbox/page.py.
 */
(function () {
  "use strict";
  var KEYS = __SANDBOX_KEYS__;
  var INTL_AID = "513641";
  var nativeFetch = window.fetch;
  var encoder = new TextEncoder();
  var config = null;

  function b64url(buffer) {
    var bytes = new Uint8Array(buffer), text = "";
    for (var i = 0; i < bytes.length; i++) text += String.fromCharCode(bytes[i]);
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function concat(parts) {
    var size = parts.reduce(function (n, p) { return n + p.length; }, 0);
    var out = new Uint8Array(size), at = 0;
    parts.forEach(function (p) { out.set(p, at); at += p.length; });
    return out;
  }

  async function sign(key, query, bodyBytes) {
    var raw = await crypto.subtle.importKey("raw", encoder.encode(key), {name: "HMAC", hash: "SHA-256"},
                                            false, ["sign"]);
    var newline = new Uint8Array([10]);
    var message = concat([encoder.encode(query), newline, bodyBytes, newline,
                          encoder.encode(navigator.userAgent)]);
    return b64url(await crypto.subtle.sign("HMAC", raw, message));
  }

  function protectedPath(url) {
    var path = new URL(url, location.href).pathname;
    return config && config.paths.indexOf(path) >= 0;
  }

  async function signedUrl(url, body) {
    var bodyBytes = typeof body === "string" ? encoder.encode(body) : new Uint8Array(0);
    var question = url.indexOf("?");
    var base = question < 0 ? url : url.slice(0, question);
    var query = question < 0 ? "" : url.slice(question + 1);
    var aid = new URLSearchParams(query).get("aid");
    query += (query ? "&" : "") + "msToken=" + encodeURIComponent(localStorage.getItem("xmst") || "");
    var names = aid === INTL_AID ? [["X-Bogus", KEYS.xBogus], ["X-Gnarly", KEYS.xGnarly]]
                                 : [["a_bogus", KEYS.aBogus]];
    for (var i = 0; i < names.length; i++) {
      query += "&" + names[i][0] + "=" + await sign(names[i][1], query, bodyBytes);
    }
    return base + "?" + query;
  }

  function wrappedFetch(input, init) {
    var url = typeof input === "string" ? input : input.url;
    if (!protectedPath(url)) return nativeFetch.call(window, input, init);
    return signedUrl(url, init && init.body).then(function (signed) {
      return nativeFetch.call(window, signed, init);
    });
  }

  window.bdms = {
    version: "sandbox-1.0.1.20",
    init: function (cfg) { config = cfg; }
  };
  window.byted_acrawler = {init: function (cfg) { config = config || cfg; }};
  window._SdkGlueInit = function (cfg) {
    window.bdms.init(cfg);
    if (!localStorage.getItem("xmst")) localStorage.setItem("xmst", cfg.msToken);
    // The real runtime replaces fetch a moment after the page starts: a client must wait for it.
    setTimeout(function () { window.fetch = wrappedFetch; }, 150);
  };
})();
