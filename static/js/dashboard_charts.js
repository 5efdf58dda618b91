/* The staff dashboard's charts (templates/dashboard/home.html).
 *
 * The figures come from the page's json_script "dashboard-chart-data" (a list of charts:
 * id, kind, labels, series, stacked), never from an inline script: the
 * Content-Security-Policy allows our own files only. Each chart draws on the canvas of
 * its id; the same figures are in the table under it for screen readers. */
(function () {
  "use strict";

  var COLOURS = ["#0d6efd", "#dc3545", "#198754", "#fd7e14", "#6f42c1", "#20c997"];

  function draw(chart) {
    var canvas = document.getElementById(chart.id);
    if (!canvas) {
      return;
    }
    new window.Chart(canvas, {
      type: chart.kind,
      data: {
        labels: chart.labels,
        datasets: chart.series.map(function (series, index) {
          return {
            label: series.label,
            data: series.data,
            backgroundColor: COLOURS[index % COLOURS.length],
            borderColor: COLOURS[index % COLOURS.length]
          };
        })
      },
      options: {
        animation: false,
        responsive: true,
        plugins: { legend: { display: chart.series.length > 1 } },
        scales: {
          x: { stacked: chart.stacked },
          y: { stacked: chart.stacked, beginAtZero: true }
        }
      }
    });
  }

  function start() {
    var data = document.getElementById("dashboard-chart-data");
    if (!data || !window.Chart) {
      return;
    }
    JSON.parse(data.textContent).forEach(draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
