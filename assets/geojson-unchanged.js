/* Send a map trace's GeoJSON to MapLibre only when it changed.

   Every Plotly.react of a map figure (a filter, a toggle, a live patch of the case layer)
   hands every trace's GeoJSON to its MapLibre source again (plotly's map subplot updates
   all traces), and MapLibre re-parses and re-tiles each of them in its workers, then uploads
   them again: on the city view the grid outlines and service points cost most of a map
   update while only the cases changed. This wraps MapLibre's public GeoJSON source
   setData (the prototype of the sources plotly makes, found on the page's first map) so
   that data equal to what the source already holds (same JSON) is not sent again. A new
   source (a new trace, a new style) always gets its data; nothing else changes. */
(function () {
  "use strict";

  var POLL_MS = 250;
  var MARK = "__gridmapUnchanged";

  function sameData(source, data) {
    var key;
    try {
      key = typeof data === "string" ? data : JSON.stringify(data);
    } catch (e) {
      return false;
    }
    if (source[MARK] === key) {
      return true;
    }
    source[MARK] = key;
    return false;
  }

  function wrap(proto) {
    if (!proto || proto[MARK] || typeof proto.setData !== "function") {
      return;
    }
    var setData = proto.setData;
    proto.setData = function (data, waitForCompletion) {
      if (sameData(this, data)) {
        return this;
      }
      return setData.call(this, data, waitForCompletion);
    };
    proto[MARK] = true;
  }

  function geojsonSource(map) {
    var sources = (map.style && map.style.sourceCaches) || {};
    var style = map.getStyle ? map.getStyle() : null;
    var ids = style && style.sources ? Object.keys(style.sources) : Object.keys(sources);
    for (var i = 0; i < ids.length; i++) {
      var source = map.getSource(ids[i]);
      if (source && source.type === "geojson") {
        return source;
      }
    }
    return null;
  }

  var timer = setInterval(function () {
    var plots = document.querySelectorAll(".js-plotly-plot");
    for (var i = 0; i < plots.length; i++) {
      var layout = plots[i]._fullLayout;
      var subplot = layout && layout.map && layout.map._subplot;
      var map = subplot && subplot.map;
      var source = map && geojsonSource(map);
      if (source) {
        wrap(Object.getPrototypeOf(source));
        clearInterval(timer);
        return;
      }
    }
  }, POLL_MS);
})();
