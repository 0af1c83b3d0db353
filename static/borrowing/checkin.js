// Mobile check-in: scan (BarcodeDetector, else the vendored ZXing decoder) or type a code, see
// the loan, confirm the return, scan the shelf. Scans carry a client-generated id; when the
// network fails they wait in localStorage and are resent later (the API is idempotent).
(function () {
  "use strict";
  var root = document.getElementById("checkin");
  if (!root) { return; }
  var text = document.getElementById("checkin-text").dataset;
  var csrf = root.querySelector("input[name=csrfmiddlewaretoken]").value;
  var QUEUE_KEY = "lantai.checkin.queue";
  var $ = function (id) { return document.getElementById(id); };
  var current = null;

  function uuid() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var b = new Uint8Array(16); crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }
  function show(message, ok) {
    var el = $("result"); el.textContent = message; el.className = ok ? "ok" : "error";
  }
  function queue() { try { return JSON.parse(localStorage.getItem(QUEUE_KEY) || "[]"); } catch (e) { return []; } }
  function saveQueue(q) { localStorage.setItem(QUEUE_KEY, JSON.stringify(q)); updateStatus(); }
  function updateStatus() {
    var n = queue().length;
    $("sync-status").textContent = n ? text.pending + " " + n : "";
  }

  function post(scan) {
    return fetch(root.dataset.scanUrl, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, "Accept": "application/json" },
      body: JSON.stringify(scan)
    }).then(function (r) { return r.json().then(function (body) { return { status: r.status, body: body }; }); });
  }

  function send(scan) {
    return post(scan).then(function (res) { handle(scan, res); }, function () {
      var q = queue(); q.push(scan); saveQueue(q); show(text.queued, true);
    });
  }

  // Undo of a re-shelving that moved the record: offered until the server's deadline.
  var undoTimer = null;
  function offerUndo(body) {
    var button = $("undo");
    clearTimeout(undoTimer);
    button.hidden = !(body && body.move && body.undo_until);
    if (button.hidden) { return; }
    button.dataset.scanId = body.scan_id;
    var left = Date.parse(body.undo_until) - Date.now();
    undoTimer = setTimeout(function () { button.hidden = true; }, Math.max(left, 0));
  }
  $("undo").addEventListener("click", function () {
    var button = $("undo");
    var url = root.dataset.scanUrl + encodeURIComponent(button.dataset.scanId) + "/undo/";
    fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRFToken": csrf, "Accept": "application/json" }
    }).then(function (r) { return r.json().then(function (b) { return { status: r.status, body: b }; }); })
      .then(function (res) {
        button.hidden = true;
        if (res.status >= 400) { show(res.body.detail || ("HTTP " + res.status), false); return; }
        show(text.undone + " " + (res.body.position || text.offshelf), true);
      }, function () { show(text.offline, false); });
  });

  function handle(scan, res) {
    offerUndo(null);
    if (res.status >= 400) { show(res.body.detail || ("HTTP " + res.status), false); return; }
    if (res.body.action === "returned") {
      show(text.returned + ": " + res.body.reference_code, true);
      $("loan").hidden = true; $("step-shelve").hidden = false; $("position").focus();
    } else if (res.body.action === "shelved") {
      if (res.body.matches) { show(text.shelved + ": " + res.body.position, true); }
      else { show(text.mismatch + " " + res.body.expected_position, false); offerUndo(res.body); }
      $("step-shelve").hidden = true; $("code").value = ""; $("position").value = ""; current = null;
    }
  }

  // One sync at a time: coming back online fires "online" while a caller may sync too; two
  // drains at once would post the same queued scan twice in parallel. A caller during a sync
  // gets the running one; root's data-sync says "busy" or "idle" (tests wait on it).
  var syncing = null;
  function drain() {
    var q = queue();
    if (!q.length) { return Promise.resolve(); }
    var scan = q[0];
    return post(scan).then(function (res) {
      saveQueue(queue().filter(function (s) { return s.scan_id !== scan.scan_id; }));
      handle(scan, res);
      return drain();
    }, function () { /* still offline */ });
  }
  function sync() {
    if (syncing) { return syncing; }
    root.dataset.sync = "busy";
    function done() { syncing = null; root.dataset.sync = "idle"; }
    syncing = drain().then(done, done);
    return syncing;
  }

  function lookup() {
    var code = $("code").value.trim();
    if (!code) { return; }
    fetch(root.dataset.lookupUrl + "?code=" + encodeURIComponent(code), {
      credentials: "same-origin", headers: { "Accept": "application/json" }
    }).then(function (r) { return r.json().then(function (b) { return { status: r.status, body: b }; }); })
      .then(function (res) {
        if (res.status >= 400) { show(res.body.detail || ("HTTP " + res.status), false); $("loan").hidden = true; return; }
        current = res.body;
        $("loan-title").textContent = res.body.title;
        $("loan-ref").textContent = res.body.reference_code;
        $("loan-borrower").textContent = res.body.borrower + " · " + res.body.request;
        $("loan-due").textContent = res.body.due_date + (res.body.overdue ? " (" + text.due + ")" : "");
        $("loan-position").textContent = res.body.expected_position || "—";
        $("loan").hidden = false; $("result").textContent = "";
      }, function () {
        // Offline: the return can still be queued without seeing the loan first.
        current = { record: code }; show(text.queued, true); $("loan").hidden = false;
      });
  }

  $("lookup").addEventListener("click", lookup);
  $("code").addEventListener("keydown", function (e) { if (e.key === "Enter") { e.preventDefault(); lookup(); } });
  $("confirm-return").addEventListener("click", function () {
    if (!current) { return; }
    send({ scan_id: uuid(), kind: "return", code: current.record || $("code").value.trim() });
  });
  $("shelve").addEventListener("click", function () {
    var position = $("position").value.trim();
    if (!position || !current) { return; }
    send({ scan_id: uuid(), kind: "shelve", code: current.record, position: position });
  });
  $("position").addEventListener("keydown", function (e) { if (e.key === "Enter") { e.preventDefault(); $("shelve").click(); } });

  // --- decoding ------------------------------------------------------------------------------
  function zxingReader() {
    if (!window.ZXing) { return null; }
    var hints = new Map();
    hints.set(ZXing.DecodeHintType.POSSIBLE_FORMATS, [ZXing.BarcodeFormat.QR_CODE, ZXing.BarcodeFormat.CODE_128]);
    hints.set(ZXing.DecodeHintType.TRY_HARDER, true);
    var reader = new ZXing.MultiFormatReader(); reader.setHints(hints);
    return reader;
  }
  function decodeCanvas(canvas) {
    var reader = zxingReader();
    if (!reader) { throw new Error("no decoder"); }
    var source = new ZXing.HTMLCanvasElementLuminanceSource(canvas);
    var bitmap = new ZXing.BinaryBitmap(new ZXing.HybridBinarizer(source));
    return reader.decode(bitmap).getText();
  }
  // Decode an <img>, <canvas> or <video> frame: BarcodeDetector when the browser has it, else ZXing.
  function decodeImage(source) {
    var canvas = document.createElement("canvas");
    canvas.width = source.naturalWidth || source.videoWidth || source.width;
    canvas.height = source.naturalHeight || source.videoHeight || source.height;
    var ctx = canvas.getContext("2d");
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(source, 0, 0, canvas.width, canvas.height);
    if ("BarcodeDetector" in window) {
      return new BarcodeDetector().detect(canvas).then(function (codes) {
        if (codes.length) { return codes[0].rawValue; }
        return decodeCanvas(canvas);
      }, function () { return decodeCanvas(canvas); });
    }
    return Promise.resolve().then(function () { return decodeCanvas(canvas); });
  }

  var stream = null;
  function stopCamera() {
    if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); stream = null; }
    $("video").hidden = true;
  }
  $("camera").addEventListener("click", function () {
    if (!navigator.mediaDevices || !(window.ZXing || "BarcodeDetector" in window)) { show(text.nocamera, false); return; }
    var target = $("step-shelve").hidden ? $("code") : $("position");
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(function (s) {
      stream = s; var video = $("video"); video.srcObject = s; video.hidden = false; video.play();
      var tick = function () {
        if (!stream) { return; }
        if (video.readyState < 2) { setTimeout(tick, 200); return; }
        decodeImage(video).then(function (value) {
          stopCamera(); target.value = value;
          if (target.id === "code") { lookup(); } else { $("shelve").click(); }
        }, function () { setTimeout(tick, 250); });
      };
      tick();
    }, function () { show(text.nocamera, false); });
  });

  window.lantaiCheckin = { decodeImage: decodeImage, sync: sync, queue: queue };
  window.addEventListener("online", sync);
  updateStatus();
  sync();
})();
