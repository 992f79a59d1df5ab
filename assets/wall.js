/* The wall screen (/wall): fit the whole city into the map whatever the screen size (the
   server knows the extent, not the pixels: the zoom goes to the server through the
   wall-fit store), again after a resize; hide the mouse pointer after a few idle seconds.
   Does nothing on other pages. */
(function () {
  "use strict";
  var IDLE_MS = 3000;
  var TILE = 512; // MapLibre: world pixels at zoom 0
  var idleTimer = null;
  var lastZoom = -1;

  function mercY(lat) {
    var r = (lat * Math.PI) / 180;
    return Math.log(Math.tan(Math.PI / 4 + r / 2));
  }

  function fit() {
    var box = document.getElementById("wall-map");
    var gd = box && box.querySelector(".js-plotly-plot");
    if (!box || !gd || !gd._fullLayout || !gd._fullLayout.map || !window.Plotly) return false;
    var extent = box.getAttribute("data-extent");
    if (!extent) return true;
    var e = JSON.parse(extent); // [minx, miny, maxx, maxy]
    var w = gd.clientWidth, h = gd.clientHeight;
    if (!w || !h) return false;
    var pad = 0.88;
    // The legend (and the map's title) keep a strip of their own at the map's left: the
    // city is fitted into the rest, so no key covers a hot cell.
    var legend = box.querySelector(".wall-legend");
    var strip = legend ? legend.offsetLeft + legend.offsetWidth : 0;
    // The map column as wide as that strip and the city at the map's height (wall.css:
    // --map-w): no dark band beside the city. The graph resizes first; the next try fits.
    var wall = box.closest(".wall");
    var aspect = ((e[2] - e[0]) * Math.PI / 180) / Math.max(mercY(e[3]) - mercY(e[1]), 1e-9);
    var mapW = Math.round(strip + h * aspect / pad) + "px";
    if (wall && wall.style.getPropertyValue("--map-w") !== mapW) {
      wall.style.setProperty("--map-w", mapW);
      if (window.Plotly && window.Plotly.Plots) window.Plotly.Plots.resize(gd);
      return false;
    }
    var free = Math.max(w - strip, w * 0.5);
    var zx = Math.log2((free * pad * 360) / (TILE * Math.max(e[2] - e[0], 1e-6)));
    var zy = Math.log2((h * pad * 2 * Math.PI) / (TILE * Math.max(mercY(e[3]) - mercY(e[1]), 1e-9)));
    var zoom = Math.round(Math.min(zx, zy, 18) * 100) / 100;
    // The city's centre in the middle of the free part: the map's centre lies half the
    // strip to its left.
    var shift = ((w - free) / 2) * 360 / (TILE * Math.pow(2, zoom));
    var center = { lon: (e[0] + e[2]) / 2 - shift, lat: (e[1] + e[3]) / 2 };
    if (!window.dash_clientside || !window.dash_clientside.set_props) return false;
    if (Math.abs(lastZoom - zoom) < 0.01) return true;
    lastZoom = zoom;
    // The server redraws the heatmap for this zoom and moves the figure there (so later
    // patches keep it).
    window.dash_clientside.set_props("wall-fit", { data: { zoom: zoom, lon: center.lon, lat: center.lat } });
    return true;
  }

  // A wall wider than 1080p scales everything by its width (wall.css: --u), but MapLibre
  // sizes names, halos, road widths and dots in CSS pixels: the basemap's own layers get
  // the same scale, so street and place names read from across the room at 4K too.
  var SCALED = {
    symbol: { layout: ["text-size"], paint: ["text-halo-width"] },
    line: { layout: [], paint: ["line-width"] },
    circle: { layout: [], paint: ["circle-radius"] }
  };

  function times(value, k) {
    if (typeof value === "number") return value * k;
    if (Array.isArray(value) && value[0] === "interpolate") {
      // ["interpolate", how, input, stop, output, stop, output, ...]: scale the outputs
      return value.map(function (v, i) { return i >= 4 && i % 2 === 0 && typeof v === "number" ? v * k : v; });
    }
    return value;
  }

  function scaleBasemap(map, k) {
    if (!map) return false;
    var kept = map.__gridmapUnscaled || (map.__gridmapUnscaled = {});
    if (map.__gridmapScale === k) return true;
    var style;
    try {
      style = map.getStyle();  // (throws until the style itself has loaded)
    } catch (e) {
      return false;
    }
    if (!style || !style.layers) return false;
    style.layers.forEach(function (layer) {
      var props = SCALED[layer.type];
      if (!props || layer.id.indexOf("plotly-") === 0) return;
      ["layout", "paint"].forEach(function (part) {
        props[part].forEach(function (name) {
          var key = layer.id + "|" + name;
          var get = part === "layout" ? "getLayoutProperty" : "getPaintProperty";
          var set = part === "layout" ? "setLayoutProperty" : "setPaintProperty";
          if (!(key in kept)) {
            var value = map[get](layer.id, name);
            if (value === undefined) return;
            kept[key] = value;
          }
          map[set](layer.id, name, times(kept[key], k));
        });
      });
    });
    map.__gridmapScale = k;
    return true;
  }

  function scaleWhenReady(tries) {
    var box = document.getElementById("wall-map");
    var gd = box && box.querySelector(".js-plotly-plot");
    var sub = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
    var k = Math.max(1, Math.round((window.innerWidth / 1920) * 4) / 4);
    if (sub && scaleBasemap(sub.map, k)) {
      if (!sub.map.__gridmapScaleHooked) {
        sub.map.__gridmapScaleHooked = true;  // a new style (language): scale it again
        sub.map.on("style.load", function () { sub.map.__gridmapScale = null; sub.map.__gridmapUnscaled = {}; scaleWhenReady(20); });
      }
      return;
    }
    if (tries > 0) setTimeout(function () { scaleWhenReady(tries - 1); }, 250);
  }

  function fitWhenReady(tries) {
    if (fit() || tries <= 0) return;
    setTimeout(function () { fitWhenReady(tries - 1); }, 250);
  }

  function wake() {
    document.documentElement.classList.remove("wall-idle");
    clearTimeout(idleTimer);
    idleTimer = setTimeout(function () {
      if (document.getElementById("wall-map")) document.documentElement.classList.add("wall-idle");
    }, IDLE_MS);
  }

  var seen = null;
  var resizeTimer = null;
  new MutationObserver(function () {
    var box = document.getElementById("wall-map");
    if (box && box !== seen) {
      seen = box;
      lastZoom = -1;
      fitWhenReady(40);
      scaleWhenReady(40);
      wake();
    }
  }).observe(document.documentElement, { childList: true, subtree: true });
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () { fitWhenReady(8); scaleWhenReady(8); }, 300);
  });
  document.addEventListener("mousemove", wake, { passive: true });

  // The stale notice when the server does not answer at all (app server down, or a
  // request refused because sign-in cannot be checked without the database): the live
  // tick echoes its tick number into wall-beat; when it lags, say since when the data is.
  var STALE_TICKS = 3;
  function clock(iso, tz) {
    if (!iso) return "—";
    try {
      return new Intl.DateTimeFormat("en-GB", {
        timeZone: tz, hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false
      }).format(new Date(iso));
    } catch (e) {
      return "—";
    }
  }
  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    wall: {
      staleNotice: function (tick, beat, live, texts) {
        var none = window.dash_clientside.no_update;
        if (tick == null || !texts || (beat != null && tick - beat <= STALE_TICKS)) return [none, none];
        if (beat == null && tick <= STALE_TICKS) return [none, none];
        var asOf = texts.as_of.replace("{time}", clock(live && live.refreshed_at, texts.tz));
        return [asOf + " · " + texts.stale, "wall-notice stale"];
      }
    }
  });
})();
