/* onscreen: the little the pages need beyond htmx. No inline script anywhere (strict CSP).
 * - every autosave gets its own idempotency key; a retry after a failed send reuses it;
 * - the timer counts down between polls, for display only (the server decides time);
 * - a save that fails shows "not saved yet" and is sent again. */
(function () {
  "use strict";

  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID().replace(/-/g, "");
    return String(Date.now()) + Math.random().toString(16).slice(2);
  }

  document.addEventListener("htmx:configRequest", function (event) {
    var form = event.detail.elt;
    if (!form || !form.hasAttribute || !form.hasAttribute("data-autosave")) return;
    var key = form.dataset.retryKey || newKey();
    form.dataset.pendingKey = key;
    delete form.dataset.retryKey;
    if (event.detail.parameters instanceof FormData) {
      event.detail.parameters.set("idem", key);
    } else {
      event.detail.parameters.idem = key;
    }
  });

  function showUnsaved(form, message) {
    var status = document.getElementById("save-status");
    if (status) {
      status.textContent = message;
      status.classList.add("is-error");
    }
    form.dataset.retryKey = form.dataset.pendingKey || newKey();
    window.setTimeout(function () { if (window.htmx) htmx.trigger(form, "change"); }, 3000);
  }

  document.addEventListener("htmx:sendError", function (event) {
    var form = event.detail.elt;
    if (form && form.hasAttribute("data-autosave")) showUnsaved(form, "Not saved yet: connection lost. Trying again…");
  });

  document.addEventListener("htmx:responseError", function (event) {
    var form = event.detail.elt;
    // 409 is a considered refusal (time up, paused): show it, do not retry.
    if (form && form.hasAttribute("data-autosave") && event.detail.xhr.status >= 500) {
      showUnsaved(form, "Not saved yet: the server did not answer. Trying again…");
    }
  });

  // htmx does not swap error responses by default; a refusal carries the message to show.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.xhr.status === 409) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  document.addEventListener("submit", function (event) {
    var key = event.target.querySelector && event.target.querySelector("[data-idempotency-key]");
    if (key) key.value = newKey();
  });

  function tick() {
    var timer = document.getElementById("timer");
    if (!timer) return;
    var remaining = Math.max(0, parseInt(timer.dataset.remaining || "0", 10) - 1);
    timer.dataset.remaining = String(remaining);
    var value = timer.querySelector("[data-role=timer-value]");
    if (value) {
      var seconds = remaining % 60;
      value.textContent = Math.floor(remaining / 60) + " min " + (seconds < 10 ? "0" : "") + seconds + " s";
    }
  }
  window.setInterval(tick, 1000);

  // A "Print" button (the sitting report) without inline script.
  document.addEventListener("click", function (event) {
    var target = event.target;
    if (target && target.closest && target.closest("[data-print]")) window.print();
  });
})();
