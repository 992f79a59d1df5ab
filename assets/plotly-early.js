/* plotly.js loaded while the page's first callbacks are answered, not after.

   dcc.Graph loads plotly.js (window._dashPlotlyJSURL) only when the first graph mounts:
   here after the page's content came back from the server. Fetching it from the cache and
   running it then took 300-450 ms of the first paint, while the browser had sat idle
   waiting for that answer. So when the app draws figures (a callback outputs a "figure")
   and the first _dash-update-component request has gone out, the script is added here.
   Until it has run, window.Plotly is a thenable: dcc.Graph's loader takes
   `Promise.resolve(window.Plotly || <its own script>)`, so it waits for this script instead
   of adding a second copy; the bundle then sets window.Plotly itself. If the script fails,
   window.Plotly is undefined again and dcc.Graph loads it as it would have. */
(function () {
  "use strict";

  var MARK = "__gridmapPlotlyEarly";
  var origFetch = window.fetch;
  if (typeof origFetch !== "function" || origFetch[MARK]) {
    return;
  }
  /* null until _dash-dependencies is read: then whether a callback outputs a figure. */
  var drawsFigures = null;
  var started = false;

  function outputsFigure(dependencies) {
    return (dependencies || []).some(function (d) {
      return /\.figure\b/.test(String(d.output));
    });
  }

  function load() {
    var url = window._dashPlotlyJSURL;
    if (window.Plotly || !url) {
      return;
    }
    var settle = {};
    var ready = new Promise(function (resolve, reject) {
      settle.resolve = resolve;
      settle.reject = reject;
    });
    ready.catch(function () { /* dcc.Graph reports it when it waits */ });
    var waiting = {
      then: function (ok, fail) {
        return ready.then(ok, fail);
      },
    };
    waiting[MARK] = true;
    window.Plotly = waiting;
    var script = document.createElement("script");
    script.src = url;
    script.async = true;
    script.onload = function () {
      if (window.Plotly === waiting) {
        window.Plotly = undefined;
        settle.reject(new Error("plotly.js did not define window.Plotly"));
      } else {
        settle.resolve();
      }
    };
    script.onerror = function () {
      if (window.Plotly === waiting) {
        window.Plotly = undefined;
      }
      settle.reject(new Error("plotly.js did not load"));
    };
    document.head.appendChild(script);
  }

  var wrapped = function (input, init) {
    var url = typeof input === "string" ? input : (input && input.url) || "";
    var out = origFetch.apply(this, arguments);
    if (drawsFigures === null && url.indexOf("_dash-dependencies") !== -1) {
      out.then(function (response) {
        return response.clone().json();
      }).then(function (dependencies) {
        drawsFigures = outputsFigure(dependencies);
      }, function () { /* the renderer reports it */ });
    } else if (!started && drawsFigures && url.indexOf("_dash-update-component") !== -1) {
      started = true;
      // after the renderer's task that sent the request: its next requests go first
      setTimeout(load, 0);
    }
    return out;
  };
  wrapped[MARK] = true;
  window.fetch = wrapped;
})();
