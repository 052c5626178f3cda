// Times on staff pages as the shop reads them: in the shop's time zone (TECHAN_TIMEZONE, in the page's
// <meta name="shop-timezone">) whatever the browser's, today's as 14:05 and earlier ones with their date.
window.shopTime = (function () {
  "use strict";
  const zone = document.querySelector('meta[name="shop-timezone"]').content;
  const day = (moment) => moment.toLocaleDateString("zh-CN", { timeZone: zone });
  return function (iso) {
    const at = new Date(iso);
    const time = at.toLocaleTimeString("zh-CN", { timeZone: zone, hour: "2-digit", minute: "2-digit" });
    return day(at) === day(new Date()) ? time
      : at.toLocaleDateString("zh-CN", { timeZone: zone, year: "numeric", month: "numeric", day: "numeric" }) + " " + time;
  };
})();
