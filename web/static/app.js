// Keyboard-first triage. Plain JavaScript, no build step, no inline handlers (the CSP forbids them).
(function () {
  "use strict";
  var page = document.body.getAttribute("data-page");
  var help = document.getElementById("shortcut-help");

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

  function askNote(message) {
    var note = window.prompt(message || "Note");
    return note === null ? null : note.trim();
  }

  if (page === "queue") {
    var rows = Array.prototype.slice.call(document.querySelectorAll("tr.queue-row"));
    var current = rows.length ? 0 : -1;
    var stored = sessionStorage.getItem("queue-pos");
    if (stored !== null && rows.length) { current = Math.min(parseInt(stored, 10) || 0, rows.length - 1); }
    function select(index) {
      if (!rows.length) { return; }
      current = Math.max(0, Math.min(index, rows.length - 1));
      rows.forEach(function (row, i) { row.classList.toggle("selected", i === current); row.setAttribute("aria-selected", i === current ? "true" : "false"); });
      rows[current].scrollIntoView({ block: "nearest" });
      sessionStorage.setItem("queue-pos", String(current));
    }
    select(current);
    function decide(action, needsNote) {
      if (current < 0) { return; }
      var row = rows[current];
      var note = "";
      var bulkNote = document.getElementById("bulk-note");
      if (needsNote) {
        note = askNote(document.body.getAttribute("data-note-prompt"));
        if (!note) { return; }
      } else if (bulkNote) { note = bulkNote.value; }
      var target = document.getElementById("bulk-target");
      post(row.getAttribute("data-decide"), {
        action: action, version: row.getAttribute("data-version"), note: note,
        target: target ? target.value : "", next: window.location.pathname + window.location.search
      });
    }
    document.addEventListener("keydown", function (event) {
      if (typing(event) || event.ctrlKey || event.metaKey || event.altKey) { return; }
      var row = current >= 0 ? rows[current] : null;
      switch (event.key) {
        case "j": select(current + 1); break;
        case "k": select(current - 1); break;
        case "o": case "Enter": if (row) { window.location = row.getAttribute("data-href"); } break;
        case "x": if (row) { var box = row.querySelector("input.select"); box.checked = !box.checked; } break;
        case "c": decide("confirm_misinformation", false); break;
        case "h": decide("confirm_harm", false); break;
        case "d": decide("dismiss", false); break;
        case "e": decide("escalate", true); break;
        case "m": if (row) { post(document.getElementById("bulk-form").querySelector("#bulk-claim").getAttribute("formaction"), { item_id: row.getAttribute("data-item-id"), next: window.location.pathname + window.location.search }); } break;
        case "s": if (row && row.getAttribute("data-source")) { window.open(row.getAttribute("data-source"), "_blank", "noopener,noreferrer"); } break;
        case "?": toggleHelp(); break;
        default: return;
      }
      event.preventDefault();
    });
  }

  if (page === "item") {
    document.addEventListener("keydown", function (event) {
      if (typing(event) || event.ctrlKey || event.metaKey || event.altKey) { return; }
      function press(action) {
        var button = document.getElementById("action-" + action);
        if (button) { button.click(); }
      }
      switch (event.key) {
        case "c": press("confirm_misinformation"); break;
        case "h": press("confirm_harm"); break;
        case "d": press("dismiss"); break;
        case "e": case "r":
          var note = document.getElementById("note");
          if (note && !note.value.trim()) { note.focus(); break; }
          press(event.key === "e" ? "escalate" : "reopen"); break;
        case "s": var link = document.getElementById("source-link"); if (link) { window.open(link.href, "_blank", "noopener,noreferrer"); } break;
        case "u": case "Escape": var back = document.getElementById("back-to-queue"); if (back) { window.location = back.href; } break;
        case "?": toggleHelp(); break;
        default: return;
      }
      event.preventDefault();
    });
  }
}());
