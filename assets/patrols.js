/* The patrols page (/patrols): its replay slider's values are seconds since local midnight
   of the shift's first day; its tooltip reads them as a clock (HH:MM:SS, 24:00 onwards
   past midnight wraps to 00:00). Dash calls window.dccFunctions[name] as a tooltip
   transform. */
(function () {
  "use strict";
  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }
  window.dccFunctions = window.dccFunctions || {};
  window.dccFunctions.gridmapClock = function (value) {
    var s = Math.round(Number(value) || 0);
    var h = Math.floor(s / 3600);
    return pad(h === 24 ? 24 : h % 24) + ":" + pad(Math.floor((s % 3600) / 60)) + ":" + pad(s % 60);
  };
})();
