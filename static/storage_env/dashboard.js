// 库房温湿度 dashboard: live over /ws/climate/, re-synced from the API on every (re)connect,
// with a sound and a browser notification for new alarms.
(function () {
  "use strict";
  var root = document.getElementById("climate-rooms");
  if (!root) { return; }
  var status = document.getElementById("climate-connection");
  var notifyButton = document.getElementById("climate-notify");
  var label = function (name) { return root.dataset["label" + name] || name; };
  var retry = 1000;
  var audio = null;

  function fmt(value, unit) {
    return value === null || value === undefined ? "– " + unit : Number(value).toFixed(1) + " " + unit;
  }

  function card(roomId) { return root.querySelector('[data-room="' + roomId + '"]'); }

  function setField(el, field, text) {
    var node = el.querySelector('[data-field="' + field + '"]');
    if (node) { node.textContent = text; }
  }

  function renderAlarms(el, alarms) {
    var list = el.querySelector('[data-field="alarms"]');
    if (!list) { return; }
    list.textContent = "";
    alarms.forEach(function (alarm) {
      var li = document.createElement("li");
      li.dataset.severity = alarm.severity;
      li.dataset.alarm = alarm.id;
      li.textContent = (alarm.rule_label || alarm.rule) + ": " + alarm.message;
      list.appendChild(li);
    });
  }

  function stateOf(alarms, fallback) {
    if (alarms.some(function (a) { return a.severity === "critical"; })) { return "critical"; }
    if (alarms.length) { return "warning"; }
    return fallback === "critical" || fallback === "warning" ? "ok" : fallback;
  }

  function renderRoom(room) {
    var el = card(room.id);
    if (!el) { return; }
    el.dataset.state = room.state;
    setField(el, "temperature", fmt(room.temperature, "°C"));
    setField(el, "humidity", fmt(room.humidity, "%RH"));
    setField(el, "dew_point", fmt(room.dew_point, "°C"));
    renderAlarms(el, room.open_alarms);
  }

  var knownAlarms = null;  // ids of open alarms seen so far (null: not loaded yet)

  function resync() {
    fetch(root.dataset.api, { credentials: "same-origin", headers: { Accept: "application/json" } })
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
      new Notification(alarm.rule_label || alarm.rule, { body: alarm.message, tag: "alarm-" + alarm.id });
    }
  }

  function currentAlarms(el) {
    return Array.prototype.map.call(el.querySelectorAll("[data-alarm]"), function (li) {
      return { id: Number(li.dataset.alarm), severity: li.dataset.severity, rule_label: "", message: li.textContent, keep: true };
    });
  }

  function onAlarm(type, alarm) {
    var el = card(alarm.room_id);
    if (el) {
      var alarms = currentAlarms(el).filter(function (a) { return a.id !== alarm.id; });
      var open = alarm.state === "raised" || alarm.state === "acknowledged";
      if (open) { alarms.unshift(alarm); }
      var list = el.querySelector('[data-field="alarms"]');
      if (list) {
        list.textContent = "";
        alarms.forEach(function (a) {
          var li = document.createElement("li");
          li.dataset.severity = a.severity;
          li.dataset.alarm = a.id;
          li.textContent = a.keep ? a.message : (a.rule_label || a.rule) + ": " + a.message;
          list.appendChild(li);
        });
      }
      el.dataset.state = stateOf(alarms, el.dataset.state);
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
      setField(el, "temperature", fmt(r.temperature, "°C"));
      setField(el, "humidity", fmt(r.humidity, "%RH"));
      setField(el, "dew_point", fmt(r.dew_point, "°C"));
      if (el.dataset.state === "unknown") { el.dataset.state = "ok"; }
    });
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + root.dataset.ws);
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
})();
