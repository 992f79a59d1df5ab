/* Watch the tiles of every Plotly map on the page (its MapLibre map:
   gd._fullLayout.map._subplot.map). Tiles still loading after SLOW_MS (a hung request) or
   tiles that failed ("error" events of a tile source) bring up a small notice in the page's
   language with a retry button, and are re-requested with backoff (SLOW_MS, then twice as
   long each time, at most MAX_BACKOFF_MS): hung tiles are dropped and loaded afresh (their
   requests aborted), failed ones refreshed. The notice goes once every tile in view has
   loaded. Nothing is fetched but the map's own tiles. */
(function () {
  "use strict";

  var SLOW_MS = 6000;
  var POLL_MS = 1000;
  var MAX_BACKOFF_MS = 60000;
  var MIN_SHOW_MS = 3000; /* a notice stays up long enough to be read */
  var TEXT = {
    "zh-CN": {
      slow: "地图图块加载缓慢，正在重试…",
      failed: "部分地图图块加载失败，正在重试…",
      retry: "重试"
    },
    en: {
      slow: "Map tiles are slow to load; retrying…",
      failed: "Some map tiles failed to load; retrying…",
      retry: "Retry"
    }
  };

  function language(el) {
    var holder = el.closest("[lang]");
    var code = holder ? holder.getAttribute("lang") : document.documentElement.lang;
    return /^en/i.test(code || "") ? "en" : "zh-CN";
  }

  function managers(map) {
    return (map.style && map.style.tileManagers) || {};
  }

  function Watch(gd, map) {
    this.gd = gd;
    this.map = map;
    this.failed = {};
    this.pendingSince = null;
    this.backoff = SLOW_MS;
    this.nextRetry = 0;
    this.box = null;
    this.shownAt = 0;
    var self = this;
    map.on("error", function (event) {
      if (event && event.sourceId && event.tile) {
        self.failed[event.sourceId] = true;
      }
    });
  }

  Watch.prototype.notice = function (reason, now) {
    var text = TEXT[language(this.gd)];
    if (!this.box || !this.gd.contains(this.box)) {
      var self = this;
      this.box = document.createElement("div");
      this.box.className = "tile-notice";
      this.box.setAttribute("role", "status");
      var label = document.createElement("span");
      label.className = "tile-notice-text";
      var button = document.createElement("button");
      button.type = "button";
      button.className = "tile-notice-retry";
      button.addEventListener("click", function () {
        self.retry(Date.now());
      });
      this.box.appendChild(label);
      this.box.appendChild(button);
      if (window.getComputedStyle(this.gd).position === "static") {
        this.gd.style.position = "relative";
      }
      this.gd.appendChild(this.box);
    }
    this.box.firstChild.textContent = text[reason];
    this.box.lastChild.textContent = text.retry;
    if (this.box.hidden || !this.shownAt) {
      this.shownAt = now;
    }
    this.box.hidden = false;
  };

  Watch.prototype.hide = function (now) {
    if (this.box && !this.box.hidden && (now === undefined || now - this.shownAt >= MIN_SHOW_MS)) {
      this.box.hidden = true;
      this.shownAt = 0;
    }
  };

  /* Drop the tiles still loading (aborting their requests) and load them afresh; refresh
     the sources whose tiles failed. */
  Watch.prototype.retry = function (now) {
    var map = this.map;
    var all = managers(map);
    Object.keys(all).forEach(function (id) {
      var manager = all[id];
      if (manager && manager.clearTiles && !manager.areTilesLoaded()) {
        manager.clearTiles();
      }
    });
    Object.keys(this.failed).forEach(function (id) {
      if (all[id]) {
        map.refreshTiles(id);
      }
    });
    this.failed = {};
    this.pendingSince = now;
    this.nextRetry = now + this.backoff;
    this.backoff = Math.min(MAX_BACKOFF_MS, this.backoff * 2);
    if (typeof map._update === "function") {
      map._update(true);
    } else {
      map.triggerRepaint();
    }
  };

  Watch.prototype.check = function (now) {
    var loaded = this.map.areTilesLoaded();
    var failed = Object.keys(this.failed).length > 0;
    if (loaded) {
      this.pendingSince = null;
    } else if (this.pendingSince === null) {
      this.pendingSince = now;
    }
    var slow = this.pendingSince !== null && now - this.pendingSince >= SLOW_MS;
    if (!slow && !failed) {
      if (loaded) {
        this.hide(now);
        this.backoff = SLOW_MS;
        this.nextRetry = 0;
      }
      return;
    }
    this.notice(failed ? "failed" : "slow", now);
    if (now >= this.nextRetry) {
      this.retry(now);
    }
  };

  var watches = [];

  function poll() {
    var now = Date.now();
    document.querySelectorAll(".js-plotly-plot").forEach(function (gd) {
      var layout = gd._fullLayout;
      var subplot = layout && layout.map && layout.map._subplot;
      var map = subplot && subplot.map;
      if (map && !map.__gridmapTileWatch) {
        map.__gridmapTileWatch = new Watch(gd, map);
        watches.push(map.__gridmapTileWatch);
      }
    });
    watches = watches.filter(function (watch) {
      var layout = watch.gd._fullLayout;
      var alive = document.body.contains(watch.gd) && layout && layout.map &&
        layout.map._subplot && layout.map._subplot.map === watch.map;
      if (!alive) {
        watch.hide(); /* its map was replaced or removed */
      }
      return alive;
    });
    watches.forEach(function (watch) {
      try {
        watch.check(now);
      } catch (e) {
        /* a map being torn down: the next poll drops it */
      }
    });
  }

  window.setInterval(poll, POLL_MS);
})();
