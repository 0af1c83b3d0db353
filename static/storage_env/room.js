// Room history charts (Chart.js + luxon date adapter, vendored): a real time axis in the
// archive's time zone over each range's own span (日 24 h of raw readings, 周 7 days of
// 5-minute rollups, 月 31 days hourly, 年 a year of days), gaps left as gaps, the allowed
// range as a shaded band, and each sensor's lowest–highest as a light area when downsampled.
(function () {
  "use strict";
  var box = document.getElementById("climate-chart");
  if (!box || !window.Chart) { return; }
  var zone = box.dataset.timeZone || "Asia/Shanghai";
  var locale = /^zh/i.test(box.dataset.locale || "zh") ? "zh-CN" : "en-GB";
  if (window.luxon) {
    window.luxon.Settings.defaultZone = zone;
    window.luxon.Settings.defaultLocale = locale;
  }
  var charts = {};
  var colours = ["#1565c0", "#2e7d32", "#ef6c00", "#6a1b9a", "#c62828", "#00838f"];
  var TOOLTIP = { day: "MM-dd HH:mm", week: "MM-dd HH:mm", month: "MM-dd HH:mm", year: "yyyy-MM-dd" };
  var UNIT = { day: "hour", week: "day", month: "day", year: "month" };  // ticks on whole units
  var buttons = document.querySelectorAll("#climate-range-buttons [data-range]");
  var empty = document.createElement("p");
  empty.className = "climate-chart-empty";
  empty.hidden = true;
  empty.textContent = box.dataset.labelNoData || "";
  box.insertBefore(empty, box.firstChild);

  function rgba(hex, alpha) {
    var n = parseInt(hex.slice(1), 16);
    return "rgba(" + (n >> 16) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + alpha + ")";
  }

  function value(v) { return v === undefined || v === null ? null : Number(v); }

  // A value with no neighbour on either side (between two gaps) has no line: show it as a dot.
  function lonePoint(ctx) {
    var data = ctx.dataset.data, i = ctx.dataIndex;
    if (!data[i] || data[i].y === null) { return 0; }
    var before = i > 0 ? data[i - 1].y : null, after = i < data.length - 1 ? data[i + 1].y : null;
    return before === null && after === null ? 2 : 0;
  }

  // The allowed range as a shaded band behind the lines, dashed at its edges.
  var limitBand = {
    id: "limitBand",
    beforeDatasetsDraw: function (chart, args, opts) {
      if (opts.low === undefined || opts.high === undefined) { return; }
      var y = chart.scales.y, area = chart.chartArea, ctx = chart.ctx;
      var top = Math.max(y.getPixelForValue(opts.high), area.top);
      var bottom = Math.min(y.getPixelForValue(opts.low), area.bottom);
      ctx.save();
      ctx.fillStyle = "rgba(46, 125, 50, 0.10)";
      if (bottom > top) { ctx.fillRect(area.left, top, area.right - area.left, bottom - top); }
      ctx.strokeStyle = "rgba(46, 125, 50, 0.7)";
      ctx.lineWidth = 1;
      ctx.setLineDash([6, 4]);
      [top, bottom].forEach(function (py) {
        if (py >= area.top && py <= area.bottom) {
          ctx.beginPath(); ctx.moveTo(area.left, py); ctx.lineTo(area.right, py); ctx.stroke();
        }
      });
      ctx.restore();
    }
  };

  function datasets(points, field, aggregated) {
    var bySensor = {}, order = [];
    points.forEach(function (p) {
      var s = bySensor[p.sensor];
      if (!s) { s = bySensor[p.sensor] = { mean: [], low: [], high: [] }; order.push(p.sensor); }
      var x = Date.parse(p.ts);
      s.mean.push({ x: x, y: value(p[field]) });
      if (aggregated) {
        s.low.push({ x: x, y: value(p[field + "_min"]) });
        s.high.push({ x: x, y: value(p[field + "_max"]) });
      }
    });
    var result = [];
    order.forEach(function (sensor, i) {
      var colour = colours[i % colours.length];
      var s = bySensor[sensor];
      if (aggregated) {
        result.push({ label: sensor + " min", envelope: true, data: s.low, borderWidth: 0, pointRadius: 0, fill: false, spanGaps: false });
        result.push({ label: sensor + " max", envelope: true, data: s.high, borderWidth: 0, pointRadius: 0, fill: "-1", backgroundColor: rgba(colour, 0.15), spanGaps: false });
      }
      result.push({ label: sensor, data: s.mean, borderColor: colour, backgroundColor: colour, pointRadius: lonePoint, pointHoverRadius: 3, borderWidth: 1.5, spanGaps: false, fill: false });
    });
    return result;
  }

  function draw(id, title, sets, low, high, data) {
    if (charts[id]) { charts[id].destroy(); }
    var margin = Math.max((high - low) * 0.25, 1);
    var narrow = window.innerWidth < 600;
    charts[id] = new Chart(document.getElementById(id), {
      type: "line",
      data: { datasets: sets },
      plugins: [limitBand],
      options: {
        animation: false, parsing: false, normalized: true,
        responsive: true, maintainAspectRatio: false,
        interaction: { mode: "nearest", axis: "x", intersect: false },
        scales: {
          x: {
            type: "time",
            min: Date.parse(data.since), max: Date.parse(data.until),
            adapters: { date: { zone: zone, locale: locale } },
            time: {
              unit: UNIT[data.range] || "hour",
              tooltipFormat: TOOLTIP[data.range] || "yyyy-MM-dd HH:mm",
              displayFormats: { minute: "HH:mm", hour: "HH:mm", day: "MM-dd", week: "MM-dd", month: "yyyy-MM", quarter: "yyyy-MM", year: "yyyy" }
            },
            ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: narrow ? 4 : 8 }
          },
          y: { suggestedMin: low - margin, suggestedMax: high + margin, ticks: { maxTicksLimit: 6 } }
        },
        plugins: {
          limitBand: { low: low, high: high },
          title: { display: true, text: title },
          legend: {
            position: "bottom",
            labels: { boxWidth: 12, filter: function (item, chartData) { return !chartData.datasets[item.datasetIndex].envelope; } }
          },
          tooltip: {
            filter: function (item) { return !item.dataset.envelope && item.parsed.y !== null; }
          }
        }
      }
    });
  }

  function load(range) {
    buttons.forEach(function (b) {
      var on = b.dataset.range === range;
      b.classList.toggle("outline", !on);
      b.setAttribute("aria-pressed", String(on));
    });
    fetch(box.dataset.api + "?range=" + encodeURIComponent(range), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (data) {
        var aggregated = data.bucket !== "raw";
        var lim = data.limits;
        draw("climate-chart-temperature", box.dataset.labelTemperature, datasets(data.points, "temperature", aggregated), lim.temp_min, lim.temp_max, data);
        draw("climate-chart-humidity", box.dataset.labelHumidity, datasets(data.points, "humidity", aggregated), lim.rh_min, lim.rh_max, data);
        empty.hidden = data.points.length > 0;
        box.dataset.loaded = data.range;  // for people and tests: what is on screen
      })
      .catch(function () { empty.hidden = false; });
  }

  buttons.forEach(function (button) {
    button.addEventListener("click", function () {
      if (window.history && history.replaceState) { history.replaceState(null, "", "#range=" + button.dataset.range); }
      load(button.dataset.range);
    });
  });
  var asked = /range=(day|week|month|year)/.exec(location.hash);
  load(asked ? asked[1] : "day");
})();
