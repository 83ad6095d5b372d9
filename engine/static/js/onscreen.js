/* onscreen: the little the pages need beyond htmx. No inline script anywhere (strict CSP).
 * - every answer goes through a save queue kept in localStorage: sent in order, each entry with
 *   its own idempotency key (a retry reuses it), "Saved" shown only on the server's receipt;
 * - the timer counts down between polls, for display only (the server decides time);
 * - the display tools apply at once and are remembered by the server; read aloud uses the
 *   browser's speech synthesis. */
(function () {
  "use strict";

  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID().replace(/-/g, "");
    return String(Date.now()) + Math.random().toString(16).slice(2);
  }

  // --- The save queue -------------------------------------------------------------------------
  // Every change to an answer becomes an entry (item, address, answer, idempotency key) in a
  // queue kept in localStorage per attempt, so a failed send, a reload or a browser restart
  // loses nothing. Entries are sent one at a time, oldest first; an entry leaves the queue
  // only when the server acknowledges it (a receipt) or refuses it for good (409: time up).
  // "Saved" is shown only from the server's receipt; until then the answer is "not saved yet".
  var QUEUE_PREFIX = "onscreen:unsent:";
  var memoryQueues = {};  // when localStorage is unavailable (some locked-down browsers)
  var queueBox = null;     // [data-save-queue]: names the attempt; present on the test pages
  var player = null;       // form[data-autosave]: the item being answered
  var inFlight = null;     // idem of the entry being sent
  var failures = 0;
  var retryTimer = null;
  var pendingNavigation = null;
  var lastProblem = "";
  var acknowledged = {};   // item -> the answer the server last acknowledged from this page

  function loadQueue(attempt) {
    try {
      var stored = window.localStorage.getItem(QUEUE_PREFIX + attempt);
      return stored ? JSON.parse(stored) : [];
    } catch (e) {
      return memoryQueues[attempt] || [];
    }
  }

  function storeQueue(attempt, queue) {
    memoryQueues[attempt] = queue;
    try {
      if (queue.length) window.localStorage.setItem(QUEUE_PREFIX + attempt, JSON.stringify(queue));
      else window.localStorage.removeItem(QUEUE_PREFIX + attempt);
    } catch (e) { /* memoryQueues keeps it for this page */ }
  }

  function csrfToken() {
    var field = document.querySelector("input[name=csrf_token]");
    return field ? field.value : "";
  }

  // The item's own answer, without the engine's per-request fields.
  function answerBody(form) {
    var params = new URLSearchParams();
    new FormData(form).forEach(function (value, name) {
      if (name !== "csrf_token" && name !== "idem" && name !== "go") params.append(name, value);
    });
    return params.toString();
  }

  function restoreAnswer(form, body) {
    var params = new URLSearchParams(body);
    Array.prototype.forEach.call(form.elements, function (field) {
      if (!field.name || field.name.indexOf("r-") !== 0) return;
      var values = params.getAll(field.name);
      if (field.type === "radio" || field.type === "checkbox") field.checked = values.indexOf(field.value) !== -1;
      else if (field.tagName === "SELECT" && field.multiple) {
        Array.prototype.forEach.call(field.options, function (o) { o.selected = values.indexOf(o.value) !== -1; });
      } else if (params.has(field.name)) field.value = values[0];
    });
  }

  function setStatus(text, state) {
    var status = document.getElementById("save-status");
    if (!status) return;
    if (status.textContent !== text) status.textContent = text;
    status.classList.toggle("is-error", state === "error");
    status.classList.toggle("is-pending", state === "pending");
  }

  // What is still unsent, in words, outside the live region (it changes with every answer).
  function showUnsent() {
    if (!queueBox) return;
    var queue = loadQueue(queueBox.dataset.attempt);
    var items = [];
    queue.forEach(function (entry) { if (items.indexOf(entry.item) === -1) items.push(entry.item); });
    // The banner appears only once a send has failed: an ordinary save in flight must not
    // shift the page under the candidate's pointer.
    var failing = items.length && lastProblem;
    queueBox.textContent = failing ?
      "Not saved yet: question" + (items.length > 1 ? "s " : " ") + items.join(", ") +
      ". Your answers are kept on this computer and sent automatically." : "";
    document.querySelectorAll(".nav-cell").forEach(function (cell) {
      var n = cell.closest("li") && cell.closest("li").id.replace("nav-", "");
      cell.classList.toggle("is-unsent", !!failing && items.indexOf(n) !== -1);
    });
    if (player && items.indexOf(player.dataset.item) !== -1) {
      if (lastProblem) setStatus("Not saved yet: " + lastProblem, "error");
      else if (inFlight) setStatus("Saving…", "pending");
      else setStatus("Not saved yet. Sending…", "pending");
    }
  }

  function enqueue(form) {
    var attempt = queueBox.dataset.attempt;
    var queue = loadQueue(attempt);
    var body = answerBody(form);
    var item = form.dataset.item;
    var mine = queue.filter(function (entry) { return entry.item === item; });
    var latest = mine[mine.length - 1];
    if (latest ? latest.body === body : acknowledged[item] === body) return;  // nothing new to send
    var last = queue[queue.length - 1];
    if (last && last.item === item && last.idem !== inFlight) {
      // The newest entry is this item's and not yet sent: send the newer answer in its place.
      // A changed answer needs a key of its own (under a used key the server keeps the first).
      last.body = body;
      last.idem = newKey();
    } else {
      queue.push({ item: item, url: form.getAttribute("action"), body: body, idem: newKey() });
    }
    storeQueue(attempt, queue);
    showUnsent();
    flush();
  }

  function dropEntry(idem) {
    var attempt = queueBox.dataset.attempt;
    storeQueue(attempt, loadQueue(attempt).filter(function (entry) { return entry.idem !== idem; }));
  }

  // The receipt: the save status (for the item on screen) and the navigator cell, out of band.
  function applyReceipt(entry, html) {
    var template = document.createElement("template");
    template.innerHTML = html;
    template.content.querySelectorAll("[hx-swap-oob]").forEach(function (fresh) {
      var old = fresh.id && document.getElementById(fresh.id);
      fresh.removeAttribute("hx-swap-oob");
      if (old && fresh.id.indexOf("nav-") === 0) keepFlag(old, fresh);
      if (old) old.replaceWith(fresh);
    });
    var status = template.content.getElementById("save-status");
    var stillUnsent = loadQueue(queueBox.dataset.attempt).some(function (e) { return e.item === entry.item; });
    if (status && player && player.dataset.item === entry.item && !stillUnsent) {
      setStatus(status.textContent.trim(), status.classList.contains("is-error") ? "error" : "saved");
    }
  }

  // A save's navigator cell speaks for "answered". Whether the item is flagged is for the flag's
  // own request to say, and a flag pressed while the save was in flight can come back first:
  // the save's cell, read before the flag was stored, would then take the flag off the screen.
  function keepFlag(old, fresh) {
    var oldLink = old.querySelector(".nav-cell"), freshLink = fresh.querySelector(".nav-cell");
    if (!oldLink || !freshLink) return;
    var flagged = oldLink.classList.contains("is-flagged");
    if (flagged === freshLink.classList.contains("is-flagged")) return;
    freshLink.classList.toggle("is-flagged", flagged);
    var words = freshLink.querySelector(".visually-hidden");
    if (words) words.textContent = words.textContent.replace(/, flagged$/, "") + (flagged ? ", flagged" : "");
    var mark = freshLink.querySelector(".nav-flag");
    if (mark && !flagged) mark.remove();
    var oldMark = oldLink.querySelector(".nav-flag");
    if (!mark && flagged && oldMark) freshLink.appendChild(oldMark.cloneNode(true));
  }

  function scheduleRetry() {
    window.clearTimeout(retryTimer);
    var delay = Math.min(30000, 1000 * Math.pow(2, Math.min(failures, 5)));
    retryTimer = window.setTimeout(flush, delay);
  }

  function sent(entry, problem) {
    inFlight = null;
    if (problem) {
      failures += 1;
      lastProblem = problem;
      showUnsent();
      scheduleRetry();
      return;
    }
    failures = 0;
    lastProblem = "";
    showUnsent();
    flush();
  }

  function flush() {
    if (!queueBox || inFlight) return;
    var queue = loadQueue(queueBox.dataset.attempt);
    if (!queue.length) {
      if (pendingNavigation) window.location.assign(pendingNavigation);
      return;
    }
    var entry = queue[0];
    inFlight = entry.idem;
    if (!lastProblem) showUnsent();
    var body = entry.body + (entry.body ? "&" : "") + "idem=" + encodeURIComponent(entry.idem) +
      "&csrf_token=" + encodeURIComponent(csrfToken());
    fetch(entry.url, {
      method: "POST", body: body, credentials: "same-origin", cache: "no-store",
      headers: { "Content-Type": "application/x-www-form-urlencoded", "HX-Request": "true", "X-CSRFToken": csrfToken() }
    }).then(function (response) {
      var redirect = response.headers.get("HX-Redirect");
      if (redirect) {
        // Paused, moved or signed out: not saved. The entry stays and is sent from the next test page.
        inFlight = null;
        window.location.assign(redirect);
        return;
      }
      return response.text().then(function (html) {
        if (response.status === 200) {
          acknowledged[entry.item] = entry.body;
          dropEntry(entry.idem);
          applyReceipt(entry, html);
          sent(entry, "");
        } else if (response.status === 409) {
          // A considered refusal (time is up): say so; sending it again would not help.
          dropEntry(entry.idem);
          applyReceipt(entry, html);
          inFlight = null;
          showUnsent();
          flush();
        } else {
          sent(entry, "the server did not answer. Trying again…");
        }
      });
    }).catch(function () {
      sent(entry, "the connection is lost. Your answer is kept on this computer and will be sent when it returns.");
    });
  }

  var typingTimer = null;

  function startQueue() {
    queueBox = document.querySelector("[data-save-queue]");
    if (!queueBox) {
      var done = document.querySelector("[data-clear-queue]");
      // The attempt is over: nothing more can be saved, so no answers are left on this computer.
      if (done) storeQueue(done.dataset.clearQueue, []);
      return;
    }
    player = document.querySelector("form[data-autosave]");
    if (player) {
      var queue = loadQueue(queueBox.dataset.attempt);
      var mine = queue.filter(function (entry) { return entry.item === player.dataset.item; });
      // After a reload the page shows the server's answer; the newer unsent one is put back.
      if (mine.length) restoreAnswer(player, mine[mine.length - 1].body);
      player.addEventListener("change", function (event) {
        if (event.target.closest("[data-display-form]")) return;
        window.clearTimeout(typingTimer);
        enqueue(player);
      });
      player.addEventListener("input", function (event) {
        if (!/^(TEXTAREA|INPUT)$/.test(event.target.tagName) || /radio|checkbox/.test(event.target.type)) return;
        window.clearTimeout(typingTimer);
        typingTimer = window.setTimeout(function () { enqueue(player); }, 1500);
      });
      player.addEventListener("submit", function (event) {
        // Previous / Next / Review: save through the queue, then move once it is empty.
        var target = event.submitter && event.submitter.dataset.href;
        if (!target) return;
        event.preventDefault();
        window.clearTimeout(typingTimer);
        enqueue(player);
        pendingNavigation = target;
        flush();
      });
    }
    // A link to another test page waits until the queue is empty, so no answer is left behind
    // on a page that cannot load while the connection is down.
    document.addEventListener("click", function (event) {
      var link = event.target.closest && event.target.closest("a[href^='/test']");
      if (!link || !loadQueue(queueBox.dataset.attempt).length) return;
      event.preventDefault();
      pendingNavigation = link.getAttribute("href");
      flush();
    });
    // Submitting the test waits for every answer to be acknowledged first.
    document.querySelectorAll("form[data-needs-saved]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!loadQueue(queueBox.dataset.attempt).length) return;
        event.preventDefault();
        showUnsent();
        flush();
      });
    });
    window.addEventListener("online", function () { failures = 0; flush(); });
    showUnsent();
    flush();
  }

  // htmx does not swap error responses by default; a 409 refusal carries the message to show.
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

  // --- Display tools and read aloud -------------------------------------------------------------
  // A change applies at once (classes on <html>, as the server renders them) and is posted in
  // the background so the next page keeps it; focus stays where the candidate is.
  document.addEventListener("change", function (event) {
    var form = event.target.closest && event.target.closest("[data-display-form]");
    if (!form) return;
    var root = document.documentElement;
    var field = event.target;
    if (field.dataset.classPrefix) {
      var prefix = field.dataset.classPrefix;
      Array.prototype.slice.call(root.classList).forEach(function (name) {
        if (name.indexOf(prefix) === 0) root.classList.remove(name);
      });
      root.classList.add(prefix + field.value.replace(/_/g, "-"));
    } else if (field.name === "read_aloud") {
      root.classList.toggle("reader-on", field.checked);
      if (!field.checked && window.speechSynthesis) window.speechSynthesis.cancel();
    }
    var params = new URLSearchParams(new FormData(form));
    fetch(form.getAttribute("action"), {
      method: "POST", body: params.toString(), credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded", "HX-Request": "true", "X-CSRFToken": csrfToken() }
    }).catch(function () { /* applied here; remembered when the next change gets through */ });
  });

  function readAloud(text) {
    var synth = window.speechSynthesis;
    synth.cancel();
    var utterance = new SpeechSynthesisUtterance(text);
    utterance.lang = document.documentElement.lang || "en-GB";
    synth.speak(utterance);
  }

  function startReadAloud() {
    var controls = document.querySelector("[data-read-aloud-controls]");
    if (!controls) return;
    if (!("speechSynthesis" in window) || typeof SpeechSynthesisUtterance === "undefined") {
      controls.querySelectorAll("button").forEach(function (b) { b.hidden = true; });
      controls.querySelector("[data-read-aloud-note]").hidden = false;
      return;
    }
    controls.addEventListener("click", function (event) {
      var button = event.target.closest("[data-read-aloud]");
      if (!button) return;
      if (button.dataset.readAloud === "stop") { window.speechSynthesis.cancel(); return; }
      // What the candidate selected, or else the question (or the page's main content).
      var selected = String(window.getSelection ? window.getSelection() : "").trim();
      var source = document.querySelector("[data-read-aloud-source]") || document.getElementById("main");
      readAloud(selected || (source ? source.innerText : ""));
    });
  }

  startQueue();
  startReadAloud();

  // A "Print" button (the sitting report) without inline script.
  document.addEventListener("click", function (event) {
    var target = event.target;
    if (target && target.closest && target.closest("[data-print]")) window.print();
  });
})();
