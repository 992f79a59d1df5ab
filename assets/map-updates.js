/* Map updates that draw once: what a plotly map figure update costs MapLibre.

   Every Plotly.react of a map figure (a filter, a toggle, a live patch of the case layer)
   goes through plotly's map subplot, which (1) hands every trace's GeoJSON to its MapLibre
   source again, (2) forgets the place of every trace whose "below" layer another trace
   shares (here: all of them), so each trace removes its MapLibre layers and adds them again
   (MapLibre then cuts every source's tiles anew for them), and (3) sets the map's centre,
   zoom, bearing and pitch and resizes it, which each draw a frame. MapLibre adds a frame
   of the old data before new tiles are cut, one more after each frame that applied style
   changes, and fades labels in. An update that changed one layer so drew three or four
   frames: with software WebGL (no GPU) ~200 ms each.

   This file patches each map as plotly's map module makes it (and the subplot's and
   GeoJSON source's prototypes once):
   - a source gets its GeoJSON only when it changed (same JSON: nothing sent);
   - each existing trace keeps its place; after an update the traces that share a "below"
     layer are put back in plotly's drawing order with moveLayer (a reorder, no tile work)
     when traces came or went;
   - camera and resize calls that change nothing are skipped;
   - after new data, a new source or a move's end (HOLD_MS; FIRST_HOLD_MS for the overlays'
     first draw), frames are held until the GeoJSON and the shown layers' tiles are cut,
     then the update shows in one frame; a frame that applied style changes asks for no
     second one; labels show without a fade;
   - when a person's move ends on a map whose view a Dash callback follows (relayoutData is
     its input), frames are held (MOVE_HOLD_MS at most) until that callback has answered
     and its overlays are cut: the move's end and its new overlays show in one frame, not
     one frame of the old overlays at the new zoom first (the frames while it moves are
     drawn);
   - on such a map, a person's move reaches Dash as relayoutData only (set_props): dcc.Graph
     would also copy the new view into its figure and re-plot every trace for it (Plotly.react,
     ~40-80 ms of the main thread before the callback's request goes out), while plotly
     already keeps the person's view (uirevision) when the callback's answer is drawn.
   - once the map is first idle, the shader programs of the overlays' points (drawn from
     zoom 14-15) are compiled: the first zoom in does not compile them in its frames;
   - the overlays' GeoJSON sources are cut into tiles up to zoom 14 (GEOJSON_MAXZOOM) and
     over-zoomed above it.
   What is drawn, and in which order, stays plotly's. */
(function () {
  "use strict";

  var POLL_MS = 50;
  var HOLD_MS = 400;
  var FIRST_HOLD_MS = 1500;
  var MARK = "__gridmapMapUpdates";
  var SENT = "__gridmapSent";
  var FOLLOWED = "__gridmapFollowed";
  var DIRECT = "__gridmapDirectRelayout";
  var PREFIX = "plotly-trace-layer-";
  var TYPE_ORDER = { choroplethmap: 0, densitymap: 1, scattermap: 2 };
  var MOVE_HOLD_MS = 1200;
  var EXPECT_MS = 300;
  var ANSWER_MS = 300;
  /* The overlays' GeoJSON is cut into tiles up to this zoom and drawn over-zoomed above it
     (MapLibre's default: 18). A zoom in to 16.5 then cuts each source's few z14 tiles, not a
     dozen z16 ones drilled down from them: 50-80 ms less of a first zoom with software
     WebGL. A tile unit is still under a pixel at zoom 16.5 (1/8192 of a z14 tile). */
  var GEOJSON_MAXZOOM = 14;
  var holdUntil = -Infinity;
  /* Graph ids whose relayoutData a callback takes (from _dash-dependencies). */
  var followed = {};
  /* The overlays for a move: asked (requests pending), expected (the move just ended, its
     request not yet sent) or answered (the figure not yet handed to the map). */
  var awaiting = { pending: 0, expected: -Infinity, answered: -Infinity };

  function hold(ms) {
    holdUntil = Math.max(holdUntil, performance.now() + ms);
  }

  // -- GeoJSON sent only when it changed ------------------------------------------------

  function sameData(source, data) {
    var key;
    try {
      key = typeof data === "string" ? data : JSON.stringify(data);
    } catch (e) {
      return false;
    }
    if (source[SENT] === key) {
      return true;
    }
    source[SENT] = key;
    return false;
  }

  function patchSource(proto) {
    if (!proto || proto[MARK] || typeof proto.setData !== "function") {
      return;
    }
    var setData = proto.setData;
    proto.setData = function (data, waitForCompletion) {
      if (sameData(this, data)) {
        return this;
      }
      hold(HOLD_MS);
      return setData.call(this, data, waitForCompletion);
    };
    proto[MARK] = true;
  }

  /* What a GeoJSON source holds already (MapLibre keeps the object it was given). */
  function remember(source) {
    var held = source && source._data && source._data.geojson;
    if (held && source[SENT] === undefined) {
      try {
        source[SENT] = JSON.stringify(held);
      } catch (e) {
        /* sent again on its next update */
      }
    }
  }

  function geojsonSources(map) {
    var style = map.getStyle ? map.getStyle() : null;
    var ids = style && style.sources ? Object.keys(style.sources) : [];
    return ids.map(function (id) { return map.getSource(id); }).filter(function (source) {
      return source && source.type === "geojson";
    });
  }

  // -- overlays on their way after a move ------------------------------------------------

  function movedGraphs(body) {
    if (body.indexOf(".relayoutData") === -1) {
      return false; // every other request (the live ticks each second) is not parsed
    }
    try {
      return (JSON.parse(body).changedPropIds || []).filter(function (id) {
        return /\.relayoutData$/.test(id);
      }).length > 0;
    } catch (e) {
      return false;
    }
  }

  function noteDependencies(response) {
    response.clone().json().then(function (callbacks) {
      (callbacks || []).forEach(function (cb) {
        (cb.inputs || []).forEach(function (input) {
          if (input && input.property === "relayoutData") {
            followed[input.id] = true;
          }
        });
      });
    }).catch(function () { /* no map follows its view */ });
  }

  function watchRequests() {
    var origFetch = window.fetch;
    if (typeof origFetch !== "function" || origFetch[MARK]) {
      return;
    }
    var wrapped = function (input, init) {
      var url = typeof input === "string" ? input : (input && input.url) || "";
      var body = init && typeof init.body === "string" ? init.body : "";
      var moved = body !== "" && url.indexOf("_dash-update-component") !== -1 && movedGraphs(body);
      if (moved) {
        awaiting.pending += 1;
        awaiting.expected = -Infinity;
      }
      var out = origFetch.apply(this, arguments);
      if (url.indexOf("_dash-dependencies") !== -1) {
        out.then(noteDependencies, function () {});
      }
      if (moved) {
        out.then(function (response) {
          // an answer with a figure is drawn on the next data update: wait a little for it
          if (response.status === 200) {
            awaiting.answered = performance.now() + ANSWER_MS;
          }
        }, function () { /* nothing comes */ }).then(function () {
          awaiting.pending -= 1;
        });
      }
      return out;
    };
    wrapped[MARK] = true;
    window.fetch = wrapped;
  }

  function overlaysComing() {
    var now = performance.now();
    return awaiting.pending > 0 || now < awaiting.expected || now < awaiting.answered;
  }

  watchRequests();

  // -- traces kept in place ---------------------------------------------------------------

  /* The trace uids in the order plotly's updateData adds them (by type, then data). */
  function drawingOrder(calcData) {
    return calcData
      .map(function (cd, i) { return { trace: cd[0].trace, i: i }; })
      .sort(function (a, b) {
        var d = (TYPE_ORDER[a.trace.type] || 0) - (TYPE_ORDER[b.trace.type] || 0);
        return d || a.i - b.i;
      })
      .map(function (x) { return x.trace.uid; });
  }

  /* A trace's own layer ids ("plotly-trace-layer-<uid>-<part>"), in their current order. */
  function traceLayers(ids, uid) {
    var head = PREFIX + uid + "-";
    return ids.filter(function (id) {
      return id.indexOf(head) === 0 && id.slice(head.length).indexOf("-") === -1;
    });
  }

  /* The traces that share one "below" layer (plotly's lookup; here all but a trace with its
     own, e.g. the wall's heat under the coverage outlines) back in plotly's drawing order. */
  function reorder(subplot, calcData) {
    var map = subplot.map;
    var lookup = subplot.belowLookup || {};
    var uids = drawingOrder(calcData);
    var count = {};
    uids.forEach(function (uid) {
      var below = lookup["trace-" + uid];
      count[below] = (count[below] || 0) + 1;
    });
    var shared = Object.keys(count).sort(function (a, b) { return count[b] - count[a]; })[0];
    var group = uids.filter(function (uid) { return String(lookup["trace-" + uid]) === shared; });
    if (group.length < 2) {
      return;
    }
    var ids = map.getStyle().layers.map(function (l) { return l.id; });
    var wanted = [];
    group.forEach(function (uid) {
      wanted.push.apply(wanted, traceLayers(ids, uid));
    });
    var current = ids.filter(function (id) { return wanted.indexOf(id) !== -1; });
    var same = wanted.every(function (id, k) { return id === current[k]; });
    if (same || wanted.length !== current.length) {
      return;
    }
    var anchor = ids[ids.lastIndexOf(current[current.length - 1]) + 1];
    wanted.forEach(function (id) { map.moveLayer(id, anchor); });
  }

  // -- the map: still calls skipped, frames held for new data ---------------------------

  function close(a, b) {
    return Math.abs(a - b) < 1e-9;
  }

  function lonLat(center) {
    if (Array.isArray(center)) {
      return [center[0], center[1]];
    }
    return [center.lng !== undefined ? center.lng : center.lon, center.lat];
  }

  /* Whether the map is still waiting for what it was just given (a hold, at most HOLD_MS
     after new data or a move, FIRST_HOLD_MS for its first draw, never while it moves): a
     GeoJSON source still sending its data to the workers, or tiles of a shown layer still
     loading (a layer just switched on counts before MapLibre has noted it). */
  function holding(map) {
    var style = map.style;
    if (performance.now() > holdUntil || !style || !style.tileManagers || map.isMoving()) {
      return false;
    }
    if (map[FOLLOWED] && overlaysComing()) {
      return true;
    }
    var managers = style.tileManagers;
    var sending = Object.keys(managers).some(function (id) {
      var source = managers[id].getSource && managers[id].getSource();
      return source && source.type === "geojson" && !source.loaded();
    });
    if (sending) {
      return true;
    }
    var zoom = map.getZoom();
    var order = map.getLayersOrder ? map.getLayersOrder() : [];
    return order.some(function (id) {
      var layer = map.getLayer(id);
      var manager = layer && layer.source && managers[layer.source];
      var hidden = layer && (layer.isHidden ? layer.isHidden(zoom) : layer.visibility === "none");
      return manager && !hidden && !manager.loaded();
    });
  }

  // -- the points' shader programs compiled ahead --------------------------------------

  /* MapLibre compiles a layer's shader program the first time it draws the layer. The
     overlays' points (plotly's circle layers: colour and size per point, colour per point,
     or one of each) show from zoom 14-15, so a first zoom in compiled three programs within
     its frames (25-80 ms with software WebGL). Once the map is first idle, three invisible
     one-point circle layers at its centre are drawn once, then removed; the programs stay. */
  var WARM = "gridmap-warm-programs";
  var WARM_PAINT = [
    { "circle-color": ["get", "c"], "circle-radius": ["get", "r"] },
    { "circle-color": ["get", "c"], "circle-radius": 1 },
    { "circle-color": "#000", "circle-radius": 1 }
  ];

  /* ``fn`` once the map is idle after a drawn frame (not one held by holding()). */
  function onceDrawn(map, fn) {
    map.once("idle", function () {
      if (holding(map)) {
        onceDrawn(map, fn);
      } else {
        fn();
      }
    });
  }

  function warmPrograms(map, addSource) {
    var ids = WARM_PAINT.map(function (_, i) { return WARM + "-" + i; });
    var remove = function () {
      try {
        ids.forEach(function (id) { if (map.getLayer(id)) { map.removeLayer(id); } });
        if (map.getSource(WARM)) { map.removeSource(WARM); }
      } catch (e) { /* a new style dropped them already */ }
    };
    onceDrawn(map, function () {
      var c = map.getCenter();
      var point = { type: "Point", coordinates: [c.lng, c.lat] };
      try {
        addSource.call(map, WARM, {
          type: "geojson",
          data: { type: "Feature", properties: { c: "#000", r: 1 }, geometry: point }
        });
        WARM_PAINT.forEach(function (paint, i) {
          paint = Object.assign({ "circle-opacity": 0.01 }, paint);
          map.addLayer({ id: ids[i], type: "circle", source: WARM, paint: paint });
        });
      } catch (e) {
        return;  // compiled on the first zoom in, as without this
      }
      onceDrawn(map, remove);
    });
  }

  function patchMap(map) {
    if (map[MARK]) {
      return;
    }
    var setCenter = map.setCenter, setZoom = map.setZoom, setBearing = map.setBearing;
    var setPitch = map.setPitch, resize = map.resize, addSource = map.addSource;
    var render = map._render;
    map.setCenter = function (center) {
      var c = this.getCenter();
      var wanted = lonLat(center);
      var still = arguments.length === 1 && close(c.lng, wanted[0]) && close(c.lat, wanted[1]);
      return still ? this : setCenter.apply(this, arguments);
    };
    map.setZoom = function (zoom) {
      var still = arguments.length === 1 && close(this.getZoom(), zoom);
      return still ? this : setZoom.apply(this, arguments);
    };
    map.setBearing = function (bearing) {
      var still = arguments.length === 1 && close(this.getBearing(), bearing);
      return still ? this : setBearing.apply(this, arguments);
    };
    map.setPitch = function (pitch) {
      var still = arguments.length === 1 && close(this.getPitch(), pitch);
      return still ? this : setPitch.apply(this, arguments);
    };
    map.resize = function () {
      var box = this.getContainer();
      var canvas = this.getCanvas();
      var same = box.clientWidth === canvas.clientWidth && box.clientHeight === canvas.clientHeight;
      return arguments.length === 0 && same ? this : resize.apply(this, arguments);
    };
    map.addSource = function (id, source) {
      if (source && source.type === "geojson" && source.maxzoom === undefined) {
        source = Object.assign({}, source, { maxzoom: GEOJSON_MAXZOOM });
      }
      var out = addSource.call(this, id, source);
      if (source && source.type === "geojson") {
        hold(HOLD_MS);
        patchSource(Object.getPrototypeOf(this.getSource(id)));
        remember(this.getSource(id));
      }
      return out;
    };
    // the overlays' first draw (plotly adds them once the basemap has loaded: holding the
    // basemap's own first frames loses its labels), and each move's end, show once their
    // tiles are in
    if (!map.loaded()) {
      map.once("load", function () {
        hold(FIRST_HOLD_MS);
      });
    }
    map.on("moveend", function (event) {
      hold(HOLD_MS);
      if (event && event.originalEvent && map[FOLLOWED]) {
        hold(MOVE_HOLD_MS);
        awaiting.expected = performance.now() + EXPECT_MS;
      }
    });
    // labels appear at once: a 300 ms fade costs a frame per ~200 ms of it without a GPU
    map._fadeDuration = 0;
    if (typeof render === "function") {
      var held = false;
      var retry = function () {
        if (held) {
          map.triggerRepaint();
        }
      };
      var styling = false;
      var frame = function (self, timestamp, draw) {
        var style = self.style;
        if (style && !style[MARK]) {
          var apply = style.update;
          style.update = function () {
            styling = true;
            try {
              return apply.apply(this, arguments);
            } finally {
              styling = false;
            }
          };
          style[MARK] = true;
        }
        var painter = self.painter;
        var own = Object.prototype.hasOwnProperty.call(painter, "render");
        var paint = painter.render;
        if (!draw) {
          painter.render = function () {};
        }
        try {
          return render.call(self, timestamp);
        } finally {
          if (!draw) {
            if (own) {
              painter.render = paint;
            } else {
              delete painter.render;
            }
          }
        }
      };
      map._render = function (timestamp) {
        if (holding(this)) {
          held = true;
          setTimeout(retry, 16);
          // style and source changes are applied (new sources ask for their tiles), but
          // nothing is drawn until the tiles are cut
          return this._styleDirty || this._sourcesDirty ? frame(this, timestamp, false) : this;
        }
        held = false;
        return frame(this, timestamp, true);
      };
      // A frame that applies style changes fires the style's "data" event, on which
      // MapLibre asks for one more frame to apply them: this frame draws them already.
      var update = map._update;
      map._update = function () {
        return styling ? this : update.apply(this, arguments);
      };
    }
    warmPrograms(map, addSource);
    map[MARK] = true;
  }

  function patchSubplot(proto) {
    if (!proto || proto[MARK] || typeof proto.fillBelowLookup !== "function") {
      return;
    }
    var fillBelowLookup = proto.fillBelowLookup;
    proto.fillBelowLookup = function (calcData, fullLayout) {
      var hash = this.traceHash || {};
      var kept = {};
      Object.keys(hash).forEach(function (uid) { kept[uid] = hash[uid].below; });
      fillBelowLookup.call(this, calcData, fullLayout);
      Object.keys(kept).forEach(function (uid) {
        if (hash[uid] && kept[uid] !== null && kept[uid] !== undefined) {
          hash[uid].below = kept[uid];
        }
      });
    };
    var updateData = proto.updateData;
    proto.updateData = function (calcData) {
      awaiting.answered = -Infinity; // handed over: its new data holds the frames now
      updateData.call(this, calcData);
      try {
        reorder(this, calcData);
      } catch (e) {
        /* the order stays plotly's */
      }
    };
    proto[MARK] = true;
  }

  /* A person's move of a followed map (plotly's relayout event with the map's derived view)
     sets the graph's relayoutData only; every other event goes to its listeners as before. */
  function reportMovesDirectly(gd, graphId) {
    if (gd[DIRECT] || typeof gd.emit !== "function") {
      return;
    }
    var emit = gd.emit;
    gd.emit = function (name, data) {
      var clientside = window.dash_clientside;
      var moved = name === "plotly_relayout" && data && data["map._derived"] !== undefined;
      if (moved && clientside && typeof clientside.set_props === "function") {
        clientside.set_props(graphId, { relayoutData: data });
        return true;
      }
      return emit.apply(this, arguments);
    };
    gd[DIRECT] = true;
  }

  /* A map subplot and its MapLibre map, patched (once each). */
  function patchPlot(gd) {
    var layout = gd && gd._fullLayout;
    var subplot = layout && layout.map && layout.map._subplot;
    if (!subplot || !subplot.map) {
      return;
    }
    patchSubplot(Object.getPrototypeOf(subplot));
    var graph = gd.closest ? gd.closest("[id]") : null;
    subplot.map[FOLLOWED] = Boolean(graph && followed[graph.id]);
    if (subplot.map[FOLLOWED]) {
      reportMovesDirectly(gd, graph.id);
    }
    if (!subplot.map[MARK]) {
      patchMap(subplot.map);
      geojsonSources(subplot.map).forEach(function (source) {
        patchSource(Object.getPrototypeOf(source));
        remember(source);
      });
    }
  }

  /* Once plotly is loaded, its map module patches each map as it is made (before its first
     frame); until then, and for a map made before, the page is looked over. */
  var timer = setInterval(function () {
    var plots = window.Plotly && window.Plotly.Plots;
    var module = plots && plots.subplotsRegistry && plots.subplotsRegistry.map;
    if (module && typeof module.plot === "function" && !module[MARK]) {
      var plot = module.plot;
      module.plot = function (gd) {
        var out = plot.apply(this, arguments);
        patchPlot(gd);
        return out;
      };
      module[MARK] = true;
    }
    var found = document.querySelectorAll(".js-plotly-plot");
    for (var i = 0; i < found.length; i++) {
      patchPlot(found[i]);
    }
    if (module && module[MARK]) {
      clearInterval(timer);
    }
  }, POLL_MS);
})();
