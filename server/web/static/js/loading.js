// A classic script, run before the page's modules. When one of the modules fails to
// load (the network changed under the page, a phone between two networks), the page's
// code never starts and the page would say "Connecting…" for ever. This notices after
// the page has loaded, says so, and loads the page again, a few times at most: the join
// link is still in the address, since only the page's own code takes it out.
(function () {
  "use strict";
  var KEY = "page-load-tries";
  var MOST = 3;
  function store() { try { return window.sessionStorage; } catch (e) { return null; } }
  function say(text) {
    var el = document.getElementById("conn-text") || document.getElementById("voice-state");
    if (el) el.textContent = text;
  }
  function giveUp() {
    say("Not connected");
    var conn = document.getElementById("conn");
    if (conn) conn.dataset.state = "final";
    var h = document.getElementById("start-h"), msg = document.getElementById("start-msg");
    var text = "Check your connection, then open your join link again.";
    if (h && msg) {
      h.textContent = "The page did not load";
      msg.textContent = text;
    } else {
      say("The page did not load. " + text);
    }
  }
  window.addEventListener("load", function () {
    var s = store();
    if (document.documentElement.dataset.started) {
      if (s) s.removeItem(KEY);
      return;
    }
    var tries = s ? Number(s.getItem(KEY) || 0) : MOST;
    if (tries >= MOST) {
      giveUp();
      return;
    }
    if (s) s.setItem(KEY, String(tries + 1));
    say("The page did not load completely. Loading it again…");
    setTimeout(function () { location.reload(); }, 1000 * (tries + 1));
  });
})();
