/* When Dash cannot start a page (its renderer shows only "Error loading dependencies" or
   "Error loading layout": /_dash-dependencies or /_dash-layout failed, e.g. during a
   restart), say so in the page's language and reload it with backoff (1 s, 2 s, 4 s, …
   at most 60 s) once /healthz answers, with a button to retry at once. The attempt count
   lives in sessionStorage and is cleared once a page has started. */
(function () {
  "use strict";

  var KEY = "gridmap-reload-attempts";
  var MAX_DELAY_S = 60;
  var TEXT = {
    "zh-CN": {
      title: "页面加载失败",
      body: "无法从服务器读取页面结构，{s} 秒后自动重试（第 {n} 次）。",
      now: "立即重试"
    },
    en: {
      title: "The page failed to load",
      body: "The page structure could not be read from the server; retrying in {s} s " +
        "(attempt {n}).",
      now: "Retry now"
    }
  };

  function language() {
    var match = /[?&]lang=([^&#]*)/.exec(window.location.search);
    var code = match ? decodeURIComponent(match[1]) : document.documentElement.lang;
    return /^en/i.test(code || "") ? "en" : "zh-CN";
  }

  function attempts() {
    try {
      return Number(window.sessionStorage.getItem(KEY)) || 0;
    } catch (e) {
      return 0;
    }
  }

  function remember(count) {
    try {
      if (count) {
        window.sessionStorage.setItem(KEY, String(count));
      } else {
        window.sessionStorage.removeItem(KEY);
      }
    } catch (e) {
      /* storage off: every retry waits 1 s */
    }
  }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, name) {
      return String(values[name]);
    });
  }

  function notice(text) {
    var box = document.createElement("div");
    box.id = "gridmap-reload-notice";
    box.setAttribute("role", "alert");
    var title = document.createElement("strong");
    title.textContent = text.title;
    var body = document.createElement("p");
    var button = document.createElement("button");
    button.type = "button";
    button.textContent = text.now;
    button.addEventListener("click", function () {
      window.location.reload();
    });
    box.appendChild(title);
    box.appendChild(body);
    box.appendChild(button);
    document.body.appendChild(box);
    return body;
  }

  function delay(count) {
    return Math.min(MAX_DELAY_S, Math.pow(2, count - 1));
  }

  /* Whether the server answers its health check (reloading a page while it is down would
     leave the browser's own error page, which never retries). */
  function healthy(done) {
    if (!window.fetch) {
      done(true);
      return;
    }
    window.fetch("/healthz", { cache: "no-store", credentials: "same-origin" })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (body) {
        done(Boolean(body && body.ok));
      }, function () {
        done(false);
      });
  }

  function retry() {
    var count = attempts() + 1;
    remember(count);
    var text = TEXT[language()];
    var left = delay(count);
    var body = notice(text);
    function tick() {
      body.textContent = fill(text.body, { s: left, n: count });
      if (left > 0) {
        left -= 1;
        window.setTimeout(tick, 1000);
        return;
      }
      healthy(function (ok) {
        if (ok) {
          window.location.reload();
          return;
        }
        count += 1; /* still down: wait longer before asking again */
        remember(count);
        left = delay(count);
        tick();
      });
    }
    tick();
  }

  var watch = window.setInterval(function () {
    if (document.querySelector("._dash-error")) {
      window.clearInterval(watch);
      retry();
    } else if (document.querySelector("#_pages_content > *")) {
      window.clearInterval(watch); /* the page started: later failures are not ours */
      remember(0);
    }
  }, 250);
})();
