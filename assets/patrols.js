/* The patrols page (/patrols): its replay slider's values are seconds since local midnight
   of the shift's first day; its tooltip reads them as a clock (HH:MM:SS; the midnight
   ending the first day reads 24:00:00, later times wrap to 00:00:01 …). Dash calls
   window.dccFunctions[name] as a tooltip transform. */
(function () {
  "use strict";
  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }
  window.dccFunctions = window.dccFunctions || {};
  window.dccFunctions.gridmapClock = function (value) {
    var s = Math.round(Number(value) || 0);
    var h = Math.floor(s / 3600);
    if (s === 86400) return "24:00:00";
    return pad(h % 24) + ":" + pad(Math.floor((s % 3600) / 60)) + ":" + pad(s % 60);
  };
})();
