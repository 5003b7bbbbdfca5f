// Keyboard-first triage. Plain JavaScript, no build step, no inline handlers (the CSP forbids them).
// Which key runs which command comes from the page (body data-keymap, rendered from web/keymap.py, the
// same map the help overlay lists); this file only has the commands, by name.
(function () {
  "use strict";
  var body = document.body;
  var page = body.getAttribute("data-page");
  var help = document.getElementById("shortcut-help");
  var keymap = {};
  try { keymap = JSON.parse(body.getAttribute("data-keymap") || "{}"); } catch (e) { keymap = {}; }

  function toggleHelp() { if (help) { help.hidden = !help.hidden; } }
  var helpButton = document.getElementById("help-toggle");
  if (helpButton) { helpButton.addEventListener("click", toggleHelp); }

  function typing(event) {
    var t = event.target;
    return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
  }

  function csrf() {
    var input = document.querySelector('input[name="csrf_token"]');
    return input ? input.value : "";
  }

  function post(url, fields) {
    var form = document.createElement("form");
    form.method = "post";
    form.action = url;
    fields.csrf_token = csrf();
    Object.keys(fields).forEach(function (name) {
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      input.value = fields[name];
      form.appendChild(input);
    });
    document.body.appendChild(form);
    form.submit();
  }

  // The e key asks whom to escalate to (the sender's default preselected) and the note, in one dialog;
  // done(target, note) runs only when both are given.
  function askEscalation(done) {
    var dialog = document.getElementById("escalate-dialog");
    if (!dialog || typeof dialog.showModal !== "function") { return; }
    var note = document.getElementById("escalate-note");
    var target = document.getElementById("escalate-target");
    note.value = "";
    dialog.returnValue = "";
    dialog.addEventListener("close", function () {
      if (dialog.returnValue === "send" && note.value.trim() && target.value) { done(target.value, note.value.trim()); }
    }, { once: true });
    dialog.showModal();
    note.focus();
  }

  // The undo notice: offered for the seconds the server still accepts, then removed.
  var undoForm = document.getElementById("undo-form");
  if (undoForm) {
    var left = parseInt(undoForm.getAttribute("data-left-ms"), 10) || 0;
    window.setTimeout(function () { undoForm.hidden = true; }, Math.max(left, 0));
  }
  function undo() { if (undoForm && !undoForm.hidden) { undoForm.submit(); } }

  var commands = { help: toggleHelp, undo: undo };

  if (page === "queue") {
    // A story's copy list is fetched the first time its row is opened (mouse or the l key): building every
    // row's list into the page was most of the page's cost. toggle does not bubble, hence the capture.
    document.addEventListener("toggle", function (event) {
      var list = event.target.open ? event.target.querySelector("ul.copy-list[data-copies-url]") : null;
      if (!list) { return; }
      var url = list.getAttribute("data-copies-url");
      list.removeAttribute("data-copies-url");
      fetch(url, { credentials: "same-origin" }).then(function (response) {
        if (!response.ok || response.redirected) { throw new Error(response.status); }  // e.g. signed out: the login page
        return response.text();
      }).then(function (html) { list.innerHTML = html; }).catch(function () { list.setAttribute("data-copies-url", url); });
    }, true);
    var rows = Array.prototype.slice.call(document.querySelectorAll("tr.queue-row"));
    var current = rows.length ? 0 : -1;
    var stored = sessionStorage.getItem("queue-pos");
    if (stored !== null && rows.length) { current = Math.min(parseInt(stored, 10) || 0, rows.length - 1); }
    var here = function () { return window.location.pathname + window.location.search; };
    var select = function (index) {
      if (!rows.length) { return; }
      current = Math.max(0, Math.min(index, rows.length - 1));
      rows.forEach(function (row, i) { row.classList.toggle("selected", i === current); row.setAttribute("aria-selected", i === current ? "true" : "false"); });
      rows[current].scrollIntoView({ block: "nearest" });
      sessionStorage.setItem("queue-pos", String(current));
    };
    select(current);
    var row = function () { return current >= 0 ? rows[current] : null; };
    var checked = function () { return document.querySelectorAll("#queue input.select:checked"); };
    // With rows selected (x), a decision key decides the selection, after a confirmation naming the count.
    var decideSelection = function (action) {
      var count = checked().length;
      var button = document.getElementById("bulk-" + action);
      if (!button) { return; }
      var question = (body.getAttribute("data-confirm-selection") || "{action}: {n}?")
        .replace("{action}", button.textContent.trim()).replace("{n}", String(count));
      if (!window.confirm(question)) { return; }
      if (action === "escalate") {
        askEscalation(function (target, note) {
          document.getElementById("bulk-target").value = target;
          document.getElementById("bulk-note").value = note;
          button.click();
        });
        return;
      }
      button.click();
    };
    var decide = function (action) {
      if (checked().length) { decideSelection(action); return; }
      var r = row();
      if (!r) { return; }
      // A story row decides every open copy it lists, each at its version; an item row, one.
      var send = function (target, note) {
        var fields = { action: action, note: note, target: target, next: here() };
        var listed = r.querySelector('input[name^="versions_"]');  // a story's open copies: "id:version,…"
        var versions = (listed ? listed.value : "").split(",").filter(Boolean);
        if (versions.length) {
          versions.forEach(function (pair) { var p = pair.split(":"); fields["version_" + p[0]] = p[1]; });
        } else {
          fields.version = r.getAttribute("data-version");
        }
        post(r.getAttribute("data-decide"), fields);
      };
      if (action === "escalate") { askEscalation(send); return; }
      var bulkNote = document.getElementById("bulk-note");
      send("", bulkNote ? bulkNote.value : "");
    };
    commands.next = function () { select(current + 1); };
    commands.previous = function () { select(current - 1); };
    commands.expand = function () { var r = row(); var list = r ? r.querySelector("details.copies") : null; if (list) { list.open = !list.open; } };
    commands.open = function () { var r = row(); if (r) { window.location = r.getAttribute("data-href"); } };
    commands.select = function () { var r = row(); if (r) { var box = r.querySelector("input.select"); box.checked = !box.checked; } };
    commands.confirm_misinformation = function () { decide("confirm_misinformation"); };
    commands.confirm_harm = function () { decide("confirm_harm"); };
    commands.dismiss = function () { decide("dismiss"); };
    commands.escalate = function () { decide("escalate"); };
    commands.claim = function () {
      var r = row();
      var claimButton = document.getElementById("bulk-claim");
      if (!r || !claimButton) { return; }
      var fields = { item_id: r.getAttribute("data-item-id"), next: here() };
      if (r.getAttribute("data-cluster-id")) { fields.cluster_id = r.getAttribute("data-cluster-id"); }  // the story's open copies
      post(claimButton.getAttribute("formaction"), fields);
    };
    commands.source = function () { var r = row(); if (r && r.getAttribute("data-source")) { window.open(r.getAttribute("data-source"), "_blank", "noopener,noreferrer"); } };
  }

  if (page === "item") {
    var press = function (action) {
      var button = document.getElementById("action-" + action);
      if (button) { button.click(); }
    };
    var withNote = function (action) {
      var note = document.getElementById("note");
      if (note && !note.value.trim()) { note.focus(); return; }
      press(action);
    };
    commands.confirm_misinformation = function () { press("confirm_misinformation"); };
    commands.confirm_harm = function () { press("confirm_harm"); };
    commands.dismiss = function () { press("dismiss"); };
    commands.escalate = function () {
      askEscalation(function (target, note) {
        document.getElementById("target").value = target;
        document.getElementById("note").value = note;
        press("escalate");
      });
    };
    commands.reopen = function () { withNote("reopen"); };
    commands.source = function () { var link = document.getElementById("source-link"); if (link) { window.open(link.href, "_blank", "noopener,noreferrer"); } };
    commands.back = function () { var back = document.getElementById("back-to-queue"); if (back) { window.location = back.href; } };
  }

  document.addEventListener("keydown", function (event) {
    if (typing(event) || event.ctrlKey || event.metaKey || event.altKey || document.querySelector("dialog[open]")) { return; }
    var command = Object.prototype.hasOwnProperty.call(keymap, event.key) ? commands[keymap[event.key]] : null;
    if (!command) { return; }
    event.preventDefault();
    command();
  });
}());
