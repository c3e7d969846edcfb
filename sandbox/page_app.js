/* The sandbox page's own application: like Jimeng's web app, it asks for the account, the video
 * catalogue and the history as soon as the page has loaded, with the app's headers and default query
 * (protocol 2.1-2.3) and the constants the page has today (or, in a drift drill, the new ones).
 *
 * `window.__SANDBOX_APP` (filled in by sandbox/page.py) carries those constants and, since this
 * stand-in has no MD5 of its own, the `Sign` of each path for this page load's `Device-Time`.
 * The calls go through `window.fetch`, so the security SDK wraps them as it would Jimeng's.
 */
(function () {
  "use strict";
  var app = window.__SANDBOX_APP;

  function cookie(name) {
    var found = document.cookie.split("; ").filter(function (pair) { return pair.indexOf(name + "=") === 0; })[0];
    return found ? decodeURIComponent(found.slice(name.length + 1)) : "";
  }

  function query(extra) {
    var params = [["aid", String(app.aid)], ["device_platform", "web"], ["region", app.region]];
    var webId = cookie("_tea_web_id");
    if (webId) params.push(["webId", webId]);
    params.push(["da_version", app.daVersion], ["os", "windows"], ["web_component_open_flag", "1"],
                ["web_version", app.webVersion], ["aigc_features", "app_lip_sync"]);
    Object.keys(app.query).forEach(function (name) { params.push([name, app.query[name]]); });
    (extra || []).forEach(function (pair) { params.push(pair); });
    return params.map(function (p) { return encodeURIComponent(p[0]) + "=" + encodeURIComponent(p[1]); }).join("&");
  }

  function renamed(body) {
    var out = {};
    Object.keys(body).forEach(function (key) { out[app.renames[key] || key] = body[key]; });
    return out;
  }

  function call(path, body, extra) {
    var headers = {"Accept": "application/json, text/plain, */*", "Appvr": app.appvr, "Pf": app.pf,
                   "App-Sdk-Version": app.appSdkVersion, "Appid": String(app.aid),
                   "Device-Time": String(app.deviceTime), "Sign": app.signs[path], "Sign-Ver": "1",
                   "Lan": "zh-Hans", "Loc": "cn", "Tdid": "", "Cache-Control": "no-cache", "Pragma": "no-cache"};
    Object.keys(app.headers).forEach(function (name) { headers[name] = app.headers[name]; });
    var init = {method: "POST", headers: headers, credentials: "include", cache: "no-store"};
    if (body !== null) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(renamed(body));
    }
    return window.fetch(location.origin + path + "?" + query(extra), init).catch(function () { return null; });
  }

  function start() {
    call("/passport/account/info/v2", null, [["account_sdk_source", "web"]]);
    call("/mweb/v1/video_generate/get_common_config", {scene: "generate_video", params: {needCache: true}});
    call("/mweb/v1/get_history", {count: 20, offset: 0, history_type_list: [10], mode: "workbench",
                                  history_option: {workspace_id: 0}});
  }

  // After the security SDK has wrapped fetch (it does so 150 ms after it starts).
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { setTimeout(start, 300); });
  } else {
    setTimeout(start, 300);
  }
})();
