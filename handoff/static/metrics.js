// The owner's metrics as charts (Chart.js, served by the app from /static/vendor): the figures come from the
// page itself (#metrics-data, the same rows as the table), oldest day first.
(function () {
  "use strict";
  const source = document.getElementById("metrics-data");
  if (!source || !window.Chart) return;
  const data = JSON.parse(source.textContent);
  const days = data.days;
  const labels = days.map((d) => d.day.slice(5).replace("-", "/"));
  const COLORS = ["#7a4b2a", "#c9a227", "#4f7a5a", "#b3261e", "#5b6fa8", "#9a8c7e"];
  const minutes = (s) => (s === null ? null : Math.round((s / 60) * 10) / 10);

  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.color = "#5a4634";
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.plugins.legend.position = "bottom";

  const counts = { beginAtZero: true, ticks: { precision: 0 } };
  function chart(id, type, datasets, scales) {
    return new Chart(document.getElementById(id), {
      type, data: { labels, datasets }, options: { scales: scales || { x: { stacked: true }, y: { ...counts, stacked: true } } },
    });
  }

  chart("chart-conversations", "bar", [
    { label: t("机器人解决"), data: days.map((d) => d.resolved_by_bot), backgroundColor: COLORS[2] },
    { label: t("没解决（转人工、点“没用”或重复问）"), data: days.map((d) => d.conversations - d.resolved_by_bot),
      backgroundColor: COLORS[1] },
  ]);
  chart("chart-handoffs", "bar", data.reasons.map(([reason, label], i) => ({
    label: t(label), data: days.map((d) => d.handoffs[reason]), backgroundColor: COLORS[i % COLORS.length],
  })));
  chart("chart-times", "line", [
    { label: t("等店员（分钟）"), data: days.map((d) => minutes(d.median_wait_s)), borderColor: COLORS[0],
      backgroundColor: COLORS[0], spanGaps: true },
    { label: t("处理（分钟）"), data: days.map((d) => minutes(d.median_handle_s)), borderColor: COLORS[4],
      backgroundColor: COLORS[4], spanGaps: true },
  ], { y: { beginAtZero: true } });
  chart("chart-service", "bar", [
    { type: "line", label: t("满意度"), data: days.map((d) => d.satisfaction), borderColor: COLORS[3],
      backgroundColor: COLORS[3], yAxisID: "rating", spanGaps: true },
    { label: t("通话接通"), data: days.map((d) => d.calls_connected), backgroundColor: COLORS[4], yAxisID: "calls" },
    { label: t("通话没接通"), data: days.map((d) => d.calls - d.calls_connected), backgroundColor: COLORS[5], yAxisID: "calls" },
  ], {
    x: { stacked: true },
    calls: { ...counts, stacked: true, position: "left", title: { display: true, text: t("通话") } },
    rating: { min: 0, max: 5, position: "right", grid: { drawOnChartArea: false }, title: { display: true, text: t("满意度") } },
  });
})();
