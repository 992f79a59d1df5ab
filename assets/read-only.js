/* While the primary database is lost (/healthz says "read_only": the app reads from a
   replica), say so on pages that have no live notice of their own (/lead, /patrols, /plan:
   the map and the wall put it in theirs), in the page's language; the banner goes by
   itself once the primary is back. Checked every CHECK_MS while the page is visible (the
   request says it is this probe: X-Gridmap-Probe). */
(function () {
  "use strict";

  var CHECK_MS = 10000;
  var ID = "gridmap-read-only";
  var TEXT = {
    "zh-CN": "只读模式：主数据库不可用，显示只读副本数据，暂不能提交修改",
    en: "Read-only: the main database is down; showing a replica's data, changes cannot be " +
      "saved for now"
  };

  function language() {
    var match = /[?&]lang=([^&#]*)/.exec(window.location.search);
    var code = match ? decodeURIComponent(match[1]) : document.documentElement.lang;
    return /^en/i.test(code || "") ? "en" : "zh-CN";
  }

  function ownNotice() {
    return document.querySelector(".live-notice, #wall-notice") !== null;
  }

  function show(readOnly) {
    var box = document.getElementById(ID);
    if (!readOnly || ownNotice()) {
      if (box) {
        box.remove();
      }
      return;
    }
    if (!box) {
      box = document.createElement("div");
      box.id = ID;
      box.setAttribute("role", "status");
      box.textContent = TEXT[language()];
      document.body.appendChild(box);
    }
  }

  function check() {
    if (document.hidden || !window.fetch || ownNotice()) {
      return;
    }
    window.fetch("/healthz", {
      cache: "no-store",
      credentials: "same-origin",
      headers: { "X-Gridmap-Probe": "read-only" }
    })
      .then(function (response) { return response.json(); })
      .then(function (body) { show(body && body.read_only === true); })
      .catch(function () { /* the server itself is away: reload-on-error says so */ });
  }

  window.setInterval(check, CHECK_MS);
})();
