// The overview's charts (Chart.js, vendored). The numbers come from the page itself, as JSON in
// #overview-data; the same numbers are in the tables under each chart, so nothing depends on this.
(function () {
  "use strict";
  var source = document.getElementById("overview-data");
  if (!source || typeof Chart === "undefined") return;
  var data = JSON.parse(source.textContent);
  var ink = "#1d1b19", line = "#d9d3cb";
  var colours = { scans: "#7a4b1f", sessions: "#1f5f8a", taps: "#1f6a35", claims: "#5b3f8a", resales: "#8a5a00", alerts: "#a1261b" };
  Chart.defaults.color = ink;
  Chart.defaults.borderColor = line;
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.animation = false; // the page is read, not watched
  var whole = { precision: 0 };

  function series(names, type) {
    return names.map(function (name) {
      var s = data.series[name];
      return { label: s.label, data: s.values, borderColor: colours[name], backgroundColor: colours[name], type: type, tension: 0.2, pointRadius: 2 };
    });
  }

  function chart(id, config) {
    var canvas = document.getElementById(id);
    if (!canvas) return;
    config.options = Object.assign({ locale: data.lang, maintainAspectRatio: false, responsive: true }, config.options || {});
    new Chart(canvas, config);
  }

  chart("chart-activity", {
    type: "line",
    data: { labels: data.days, datasets: series(["scans", "sessions", "taps"], "line") },
    options: { scales: { y: { beginAtZero: true, ticks: whole } }, interaction: { mode: "index", intersect: false } }
  });
  chart("chart-owners", {
    type: "bar",
    data: { labels: data.days, datasets: series(["claims", "resales", "alerts"], "bar") },
    options: { scales: { y: { beginAtZero: true, ticks: whole } }, interaction: { mode: "index", intersect: false } }
  });
  chart("chart-countries", {
    type: "bar",
    data: { labels: data.countries.names, datasets: [{ label: data.countries.label, data: data.countries.values, backgroundColor: colours.scans }] },
    options: { indexAxis: "y", plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true, ticks: whole } } }
  });
  chart("chart-channels", {
    type: "bar",
    data: { labels: data.channels.names, datasets: [{ label: data.channels.label, data: data.channels.values, backgroundColor: colours.sessions }] },
    options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: whole } } }
  });
  document.documentElement.dataset.charts = "drawn"; // for tests and screenshots
})();
