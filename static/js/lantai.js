// Lantai site-wide behaviour. No inline scripts anywhere: the CSP allows only this origin.
(function () {
  "use strict";
  document.querySelectorAll("select.js-autosubmit").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });

  // Staff navigation folds behind its menu button on a phone (the CSS decides the width).
  document.querySelectorAll(".staff-nav[data-collapsible]").forEach(function (aside) {
    var button = aside.querySelector(".staff-nav-toggle");
    if (!button || aside.classList.contains("staff-nav-home")) { return; }
    aside.classList.add("js-ready");
    button.hidden = false;
    button.addEventListener("click", function () {
      var open = aside.classList.toggle("open");
      button.setAttribute("aria-expanded", open ? "true" : "false");
    });
  });

  // Every table scrolls in its own box, not the page; a scrolling box is reachable by keyboard
  // and named after its table's heading.
  document.querySelectorAll("main table").forEach(function (table) {
    var box = table.parentElement;
    if (!box.classList.contains("overflow-auto") && !box.classList.contains("table-scroll")) {
      box = document.createElement("div");
      box.className = "table-scroll";
      table.parentNode.insertBefore(box, table);
      box.appendChild(table);
    }
    if (!box.hasAttribute("tabindex")) {
      box.tabIndex = 0;
      box.setAttribute("role", "region");
      var caption = table.querySelector("caption");
      var heading = caption || box.closest("section, article, main").querySelector("h1, h2");
      if (heading) { box.setAttribute("aria-label", heading.textContent.trim()); }
    }
  });

  // A "select all" box ticks every checkbox of the named group (no inline handlers: CSP).
  document.querySelectorAll("input[data-select-all]").forEach(function (box) {
    box.addEventListener("change", function () {
      var name = box.getAttribute("data-select-all");
      box.form.querySelectorAll('input[type=checkbox][name="' + name + '"]').forEach(function (c) {
        c.checked = box.checked;
      });
    });
  });

  // Destructive actions ask once, saying what will happen (data-confirm on the form).
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); }
    });
  });

  // A form with errors: the first field in error takes the focus.
  var invalid = document.querySelector("main form [aria-invalid=true]");
  if (invalid && typeof invalid.focus === "function") { invalid.focus(); }

  // Live notices for the signed-in user (/ws/notifications/): alarms in the rooms they keep,
  // escalations, their access requests and loans. Texts come from #live-notices (translated
  // by the server); messages are inserted as text, never as HTML.
  var box = document.getElementById("live-notices");
  if (!box || !("WebSocket" in window)) { return; }
  var retry = 1000;

  function templateFor(type) {
    if (type.indexOf("access_request.") === 0) { return "request"; }
    return { "alarm.raised": "alarmRaised", "alarm.reminded": "alarmReminded",
      "alarm.escalated": "alarmEscalated", "loan.renewed": "loanRenewed",
      "loan.overdue": "loanOverdue" }[type];
  }

  function linkFor(type, payload) {
    if (type.indexOf("alarm.") === 0 && payload.room_id) {
      return box.dataset.roomUrl.replace("/0/", "/" + payload.room_id + "/");
    }
    if (type.indexOf("access_request.") === 0 && payload.id) {
      return box.dataset.requestUrl.replace("/0/", "/" + payload.id + "/");
    }
    return null;
  }

  function show(type, payload) {
    var key = templateFor(type);
    var template = key && box.dataset[key];
    if (!template) { return; }
    var text = template.replace(/\{(\w+)\}/g, function (_, name) {
      return payload[name] === undefined || payload[name] === null ? "" : String(payload[name]);
    });
    var alarm = type.indexOf("alarm.") === 0;
    var note = document.createElement("article");
    note.className = "live-notice" + (alarm ? " live-notice-alarm" : "");
    note.setAttribute("role", alarm ? "alert" : "status");
    var href = linkFor(type, payload);
    var body = document.createElement(href ? "a" : "span");
    if (href) { body.href = href; }
    body.textContent = text;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "secondary outline small";
    close.textContent = box.dataset.close;
    close.addEventListener("click", function () { note.remove(); });
    note.appendChild(body);
    note.appendChild(close);
    box.appendChild(note);
    while (box.children.length > 5) { box.removeChild(box.firstChild); }
    if (!alarm) { setTimeout(function () { note.remove(); }, 60000); }
    if (document.hidden && window.Notification && Notification.permission === "granted") {
      new Notification(text, { tag: type + "-" + (payload.id || "") });
    }
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + "/ws/notifications/");
    socket.addEventListener("open", function () { retry = 1000; box.dataset.connected = "1"; });
    socket.addEventListener("message", function (event) {
      var message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      if (message && typeof message.type === "string") { show(message.type, message.payload || {}); }
    });
    socket.addEventListener("close", function (event) {
      box.dataset.connected = "";
      if (event.code === 4401) { return; }  // signed out: nothing to wait for
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 30000);
    });
  }
  connect();
})();
