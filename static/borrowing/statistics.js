// 利用统计 chart: requests per month by purpose (stacked bars), from the page's JSON data.
(function () {
  "use strict";
  var canvas = document.getElementById("usage-chart");
  if (!canvas || !window.Chart) { return; }
  var months = JSON.parse(document.getElementById("usage-months").textContent);
  var series = JSON.parse(document.getElementById("usage-series").textContent).purpose || {};
  var colours = ["#1565c0", "#2e7d32", "#ef6c00", "#6a1b9a", "#c62828"];
  var datasets = Object.keys(series).map(function (label, i) {
    return { label: label, data: series[label], backgroundColor: colours[i % colours.length] };
  });
  new Chart(canvas, {
    type: "bar",
    data: { labels: months, datasets: datasets },
    options: { responsive: true, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } }
  });
})();
