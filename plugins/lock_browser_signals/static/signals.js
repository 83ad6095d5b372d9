// Browser signals for the exam-condition lock: report, never decide. The server records each
// report and its policy decides (an incident, or a lock until the invigilator unlocks).
// A static file (strict CSP: no inline script); it reads the CSRF token htmx already uses.
(function () {
  "use strict";
  var SIGNAL_URL = "/test/signal";
  var QUIET_MS = 5000;
  var lastSent = {};
  var wasFullscreen = false;

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (e) {
      return "";
    }
  }

  function report(kind) {
    var now = Date.now();
    if (lastSent[kind] && now - lastSent[kind] < QUIET_MS) { return; }
    lastSent[kind] = now;
    var body = new URLSearchParams();
    body.set("kind", kind);
    body.set("csrf_token", csrfToken());
    fetch(SIGNAL_URL, {method: "POST", body: body, credentials: "same-origin",
                       headers: {"X-CSRFToken": csrfToken(), "Accept": "application/json"}})
      .then(function (response) { return response.status === 200 ? response.json() : null; })
      .then(function (answer) { if (answer && answer.go) { window.location.assign(answer.go); } })
      .catch(function () { /* offline: the next page load checks the lock anyway */ });
  }

  function enterFullscreen() {
    var root = document.documentElement;
    if (!document.fullscreenElement && root.requestFullscreen) {
      root.requestFullscreen().catch(function () { /* needs a user gesture; tried again on the next click */ });
    }
  }

  document.addEventListener("fullscreenchange", function () {
    if (document.fullscreenElement) { wasFullscreen = true; return; }
    if (wasFullscreen) { report("fullscreen_exit"); }
  });
  document.addEventListener("click", enterFullscreen);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") { report("focus_lost"); }
  });
  window.addEventListener("blur", function () { report("focus_lost"); });
  ["copy", "cut", "paste"].forEach(function (kind) {
    document.addEventListener(kind, function (event) { event.preventDefault(); report(kind); });
  });
  document.addEventListener("contextmenu", function (event) { event.preventDefault(); report("context_menu"); });
  window.addEventListener("beforeprint", function () { report("print"); });
}());
