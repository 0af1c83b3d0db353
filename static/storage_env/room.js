// Room history charts (Chart.js, vendored): raw readings for a day, aggregates for longer ranges.
(function () {
  "use strict";
  var box = document.getElementById("climate-chart");
  if (!box || !window.Chart) { return; }
  var charts = {};
  var colours = ["#1565c0", "#2e7d32", "#ef6c00", "#6a1b9a", "#c62828", "#00838f"];

  function series(points, field) {
    var bySensor = {};
    points.forEach(function (p) {
      (bySensor[p.sensor] = bySensor[p.sensor] || []).push({ x: p.ts, y: p[field] });
    });
    return Object.keys(bySensor).map(function (sensor, i) {
      return { label: sensor, data: bySensor[sensor], borderColor: colours[i % colours.length], pointRadius: 0, borderWidth: 1.5 };
    });
  }

  function limitLines(points, low, high) {
    if (!points.length) { return []; }
    var first = points[0].ts, last = points[points.length - 1].ts;
    return [low, high].map(function (value) {
      return { label: String(value), data: [{ x: first, y: value }, { x: last, y: value }], borderColor: "#9e9e9e", borderDash: [6, 4], pointRadius: 0, borderWidth: 1 };
    });
  }

  function draw(id, title, datasets) {
    if (charts[id]) { charts[id].destroy(); }
    charts[id] = new Chart(document.getElementById(id), {
      type: "line",
      data: { datasets: datasets },
      options: {
        animation: false, parsing: true, responsive: true,
        scales: { x: { type: "category", ticks: { maxTicksLimit: 8, callback: function (v, i, ticks) { var l = this.getLabelForValue(v); return String(l).slice(5, 16).replace("T", " "); } } } },
        plugins: { title: { display: true, text: title }, legend: { position: "bottom" } }
      }
    });
  }

  function load(range) {
    fetch(box.dataset.api + "?range=" + encodeURIComponent(range), { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        var labels = Array.from(new Set(data.points.map(function (p) { return p.ts; }))).sort();
        var t = series(data.points, "temperature").concat(limitLines(data.points, data.limits.temp_min, data.limits.temp_max));
        var h = series(data.points, "humidity").concat(limitLines(data.points, data.limits.rh_min, data.limits.rh_max));
        draw("climate-chart-temperature", box.dataset.labelTemperature, t);
        draw("climate-chart-humidity", box.dataset.labelHumidity, h);
        [charts["climate-chart-temperature"], charts["climate-chart-humidity"]].forEach(function (c) { c.data.labels = labels; c.update(); });
      });
    document.querySelectorAll("#climate-range-buttons [data-range]").forEach(function (b) {
      b.classList.toggle("outline", b.dataset.range !== range);
    });
  }

  document.querySelectorAll("#climate-range-buttons [data-range]").forEach(function (button) {
    button.addEventListener("click", function () { load(button.dataset.range); });
  });
  load("day");
})();
