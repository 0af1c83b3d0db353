// 库房温湿度 dashboard: live over /ws/climate/, re-synced from the API on every (re)connect and
// every few seconds; out-of-range values marked in text, the time of the last reading, a 24 h
// sparkline per value (SVG drawn here from the card's data-sparkline), alarms acknowledged from
// the card, a sound and a browser notification for new alarms.
(function () {
  "use strict";
  var root = document.getElementById("climate-rooms");
  if (!root) { return; }
  var status = document.getElementById("climate-connection");
  var notifyButton = document.getElementById("climate-notify");
  var data = root.dataset;
  var label = function (name) { return data["label" + name] || name; };
  var SVG = "http://www.w3.org/2000/svg";
  var STALE_MS = 15 * 60 * 1000;
  var retry = 1000;
  var audio = null;
  var codes = {};
  try { codes = JSON.parse(data.deviceCodes || "{}"); } catch (e) { codes = {}; }

  function fill(template, values) {
    return String(template).replace(/\{(\w+)\}/g, function (m, key) { return key in values ? values[key] : m; });
  }

  function formatter(options) {
    try { return new Intl.DateTimeFormat("en-GB", Object.assign({ timeZone: data.timeZone }, options)); }
    catch (e) { return new Intl.DateTimeFormat("en-GB", options); }
  }
  var clock = formatter({ hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  var day = formatter({ year: "numeric", month: "2-digit", day: "2-digit" });
  var monthDay = formatter({ month: "2-digit", day: "2-digit" });

  function shownTime(date) {  // "14:05" today, "06-30 14:05" before (archive time zone)
    var text = clock.format(date);
    if (day.format(date) !== day.format(new Date())) {
      text = monthDay.format(date).split("/").reverse().join("-") + " " + text;
    }
    return text;
  }

  function ago(date) {
    var minutes = Math.max(0, Math.floor((Date.now() - date.getTime()) / 60000));
    if (minutes < 1) { return label("JustNow"); }
    if (minutes < 60) { return fill(label("MinutesAgo"), { n: minutes }); }
    if (minutes < 48 * 60) { return fill(label("HoursAgo"), { n: Math.floor(minutes / 60) }); }
    return fill(label("DaysAgo"), { n: Math.floor(minutes / 1440) });
  }

  function fmt(value) {
    return value === null || value === undefined ? "–" : Number(value).toFixed(1);
  }

  function card(roomId) { return root.querySelector('.climate-room[data-room="' + roomId + '"]'); }

  function limits(el, field) {
    if (field === "temperature") { return [Number(el.dataset.tempMin), Number(el.dataset.tempMax)]; }
    if (field === "humidity") { return [Number(el.dataset.rhMin), Number(el.dataset.rhMax)]; }
    return null;
  }

  // --- values, out-of-range markers --------------------------------------------------------
  function setValue(el, field, value) {
    var box = el.querySelector('[data-value="' + field + '"]');
    if (!box) { return; }
    var node = box.querySelector('[data-field="' + field + '"]');
    if (node) { node.textContent = fmt(value); }
    var band = limits(el, field);
    var marker = box.querySelector("[data-marker]");
    if (!band || !marker) { return; }
    var out = value === null || value === undefined ? "" : (value > band[1] ? "high" : (value < band[0] ? "low" : ""));
    box.classList.toggle("climate-out", !!out);
    marker.hidden = !out;
    marker.dataset.direction = out;
    marker.textContent = label("Out");
  }

  function setUpdated(el, iso) {
    var node = el.querySelector('[data-field="updated_at"]');
    if (!node || !iso) { return; }
    var date = new Date(iso);
    var old = node.getAttribute("datetime");
    if (old && new Date(old) > date) { return; }  // never go back in time
    node.setAttribute("datetime", iso);
    node.textContent = shownTime(date);
    tick(el);
  }

  function tick(el) {
    var node = el.querySelector('[data-field="updated_at"]');
    var agoNode = el.querySelector('[data-field="ago"]');
    if (!node || !node.getAttribute("datetime")) { return; }
    var date = new Date(node.getAttribute("datetime"));
    if (agoNode) { agoNode.textContent = ago(date); }
    var line = el.querySelector(".climate-updated");
    if (line) { line.dataset.stale = String(Date.now() - date.getTime() > STALE_MS); }
  }

  // --- sparklines --------------------------------------------------------------------------
  function sparkData(el) {
    if (!el._spark) {
      try { el._spark = JSON.parse(el.dataset.sparkline || "null"); } catch (e) { el._spark = null; }
    }
    return el._spark;
  }

  function addToSpark(el, field, value, when) {
    var s = sparkData(el);
    if (!s || value === null || value === undefined || !s[field]) { return; }
    var slot = Math.floor((when - s.start) / s.step);
    while (slot >= s[field].length) {  // the window moves on: drop the oldest step
      s.temperature.shift(); s.temperature.push(null);
      s.humidity.shift(); s.humidity.push(null);
      s.start += s.step;
      slot -= 1;
    }
    if (slot >= 0) { s[field][slot] = Number(value); }
  }

  function svgNode(name, attrs) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    return node;
  }

  function drawSpark(el, field) {
    var box = el.querySelector('[data-spark="' + field + '"]');
    var s = sparkData(el);
    if (!box || !s || !s[field]) { return; }
    var values = s[field];
    var band = limits(el, field);
    var known = values.filter(function (v) { return v !== null && v !== undefined; });
    box.textContent = "";
    if (!known.length) { return; }
    var lo = Math.min.apply(null, known.concat([band[0]]));
    var hi = Math.max.apply(null, known.concat([band[1]]));
    var pad = (hi - lo) * 0.08 || 1;
    lo -= pad; hi += pad;
    var H = 30;
    var y = function (v) { return (H * (1 - (v - lo) / (hi - lo))).toFixed(2); };
    var x = function (i) { return (100 * i / Math.max(values.length - 1, 1)).toFixed(2); };
    var svg = svgNode("svg", { viewBox: "0 0 100 " + H, preserveAspectRatio: "none", focusable: "false" });
    svg.appendChild(svgNode("rect", { "class": "band", x: 0, width: 100, y: y(band[1]), height: Math.max(y(band[0]) - y(band[1]), 0) }));
    var run = [];
    var flush = function () {
      if (run.length === 1) { run.push((Number(run[0].split(",")[0]) + 0.8).toFixed(2) + "," + run[0].split(",")[1]); }
      if (run.length) {
        svg.appendChild(svgNode("polyline", { "class": "line", points: run.join(" "), "vector-effect": "non-scaling-stroke" }));
      }
      run = [];
    };
    values.forEach(function (v, i) {
      if (v === null || v === undefined) { flush(); } else { run.push(x(i) + "," + y(v)); }
    });
    flush();
    box.appendChild(svg);
  }

  function drawSparks(el) { drawSpark(el, "temperature"); drawSpark(el, "humidity"); }

  // --- alarms --------------------------------------------------------------------------------
  var openAlarms = {};  // room id -> {alarm id -> alarm}

  function codeLabel(code) { return code ? (codes[code] || fill(label("UnknownCode"), { code: code })) : ""; }
  function titleOf(a) {
    if (a.title) { return a.title; }
    if (a.rule === "device" && a.code) { return a.code_label || codeLabel(a.code); }
    return a.rule_label || a.rule;
  }
  function textOf(a) {
    if (a.text !== undefined) { return a.text; }
    return a.code && a.message === a.code ? "" : (a.message || "");
  }

  function fromDom(el) {
    var alarms = {};
    el.querySelectorAll("[data-alarm]").forEach(function (li) {
      alarms[li.dataset.alarm] = {
        id: Number(li.dataset.alarm), severity: li.dataset.severity, state: li.dataset.state,
        title: li.dataset.title || "", text: li.dataset.text || "", raised_at: li.dataset.raised || ""
      };
    });
    return alarms;
  }

  function alarmItem(a) {
    var li = document.createElement("li");
    li.dataset.alarm = a.id;
    li.dataset.severity = a.severity;
    li.dataset.state = a.state;
    li.dataset.title = titleOf(a);
    li.dataset.text = textOf(a);
    li.dataset.raised = a.raised_at || "";
    var text = document.createElement("span");
    text.className = "climate-alarm-text";
    var strong = document.createElement("strong");
    strong.textContent = titleOf(a);
    text.appendChild(strong);
    if (textOf(a)) { text.appendChild(document.createTextNode(label("Sep") + textOf(a))); }
    li.appendChild(text);
    if (a.state === "raised" && data.ackUrl) {
      var form = document.createElement("form");
      form.method = "post";
      form.className = "climate-ack";
      form.action = data.ackUrl.replace("/0/", "/" + a.id + "/");
      [["csrfmiddlewaretoken", data.csrf], ["next", data.next]].forEach(function (pair) {
        var input = document.createElement("input");
        input.type = "hidden"; input.name = pair[0]; input.value = pair[1] || "";
        form.appendChild(input);
      });
      var button = document.createElement("button");
      button.type = "submit"; button.className = "outline"; button.textContent = label("Acknowledge");
      form.appendChild(button);
      li.appendChild(form);
    } else {
      var done = document.createElement("small");
      done.className = "climate-ack-done"; done.textContent = label("Acknowledged");
      li.appendChild(done);
    }
    return li;
  }

  function renderAlarms(el) {
    var list = el.querySelector('[data-field="alarms"]');
    if (!list) { return; }
    var alarms = Object.keys(openAlarms[el.dataset.room] || {}).map(function (k) { return openAlarms[el.dataset.room][k]; });
    alarms.sort(function (a, b) { return (Date.parse(b.raised_at) || 0) - (Date.parse(a.raised_at) || 0); });
    list.textContent = "";
    alarms.forEach(function (a) { list.appendChild(alarmItem(a)); });
    return alarms;
  }

  function stateOf(alarms, fallback) {
    if (alarms.some(function (a) { return a.severity === "critical"; })) { return "critical"; }
    if (alarms.length) { return "warning"; }
    return fallback === "critical" || fallback === "warning" ? "ok" : fallback;
  }

  // --- updates -------------------------------------------------------------------------------
  var knownAlarms = null;  // ids of open alarms seen so far (null: not loaded yet)

  function renderRoom(room) {
    var el = card(room.id);
    if (!el) { return; }
    el.dataset.state = room.state;
    setValue(el, "temperature", room.temperature);
    setValue(el, "humidity", room.humidity);
    setValue(el, "dew_point", room.dew_point);
    if (room.updated_at) {
      setUpdated(el, room.updated_at);
      addToSpark(el, "temperature", room.temperature, Date.parse(room.updated_at));
      addToSpark(el, "humidity", room.humidity, Date.parse(room.updated_at));
      drawSparks(el);
    }
    var alarms = {};
    room.open_alarms.forEach(function (a) { alarms[a.id] = a; });
    openAlarms[room.id] = alarms;
    renderAlarms(el);
  }

  function resync() {
    fetch(data.api, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (rooms) {
        var first = knownAlarms === null;
        knownAlarms = knownAlarms || {};
        rooms.forEach(function (room) {
          renderRoom(room);
          room.open_alarms.forEach(function (alarm) {
            if (!first && !knownAlarms[alarm.id]) { notify(alarm); }
            knownAlarms[alarm.id] = true;
          });
        });
      })
      .catch(function () {});
  }

  function beep() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      var osc = audio.createOscillator();
      var gain = audio.createGain();
      osc.frequency.value = 880;
      gain.gain.value = 0.15;
      osc.connect(gain); gain.connect(audio.destination);
      osc.start(); osc.stop(audio.currentTime + 0.4);
    } catch (e) { /* no audio */ }
  }

  function notify(alarm) {
    beep();
    if (window.Notification && Notification.permission === "granted") {
      new Notification(titleOf(alarm), { body: alarm.message, tag: "alarm-" + alarm.id });
    }
  }

  function onAlarm(type, alarm) {
    var el = card(alarm.room_id);
    if (el) {
      var alarms = openAlarms[alarm.room_id] = openAlarms[alarm.room_id] || {};
      if (alarm.state === "raised" || alarm.state === "acknowledged") { alarms[alarm.id] = alarm; }
      else { delete alarms[alarm.id]; }
      el.dataset.state = stateOf(renderAlarms(el), el.dataset.state);
    }
    if (type === "alarm.escalated" || (type === "alarm.raised" && !(knownAlarms && knownAlarms[alarm.id]))) {
      if (knownAlarms) { knownAlarms[alarm.id] = true; }
      notify(alarm);
    }
  }

  function onReadings(readings) {
    readings.forEach(function (r) {
      var el = card(r.room_id);
      if (!el) { return; }
      setValue(el, "temperature", r.temperature);
      setValue(el, "humidity", r.humidity);
      setValue(el, "dew_point", r.dew_point);
      setUpdated(el, r.ts);
      addToSpark(el, "temperature", r.temperature, Date.parse(r.ts));
      addToSpark(el, "humidity", r.humidity, Date.parse(r.ts));
      drawSparks(el);
      if (el.dataset.state === "unknown") { el.dataset.state = "ok"; }
    });
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + data.ws);
    socket.onopen = function () {
      retry = 1000;
      status.dataset.state = "live";
      status.textContent = label("Connected");
      resync();  // anything missed while disconnected comes from the database
    };
    socket.onmessage = function (event) {
      var message = JSON.parse(event.data);
      if (message.type === "reading.updated") { onReadings(message.payload.readings || []); }
      else if (message.type && message.type.indexOf("alarm.") === 0) { onAlarm(message.type, message.payload); }
    };
    socket.onclose = function () {
      status.dataset.state = "down";
      status.textContent = label("Disconnected");
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 30000);
    };
  }

  root.querySelectorAll(".climate-room[data-room]").forEach(function (el) {
    openAlarms[el.dataset.room] = fromDom(el);
    drawSparks(el);
    tick(el);
  });
  if (notifyButton) {
    notifyButton.addEventListener("click", function () {
      beep();
      if (window.Notification) { Notification.requestPermission(); }
      notifyButton.disabled = true;
    });
  }
  connect();
  // Safety net: the database is the truth. Without a shared channel layer (the embedded
  // in-memory one of a single machine) this is also how other processes' events arrive.
  setInterval(resync, 5000);
  setInterval(function () { root.querySelectorAll(".climate-room[data-room]").forEach(tick); }, 30000);
})();
