// silt console: refresh the page's main section in place every few
// seconds. Pages are complete without this script; it only keeps them
// live. The server renders the same page's main section alone when asked
// with the X-Console-Fragment header, so there is one renderer.
(function () {
  "use strict";
  var main = document.getElementById("main");
  var live = document.getElementById("live");
  if (!main || !main.dataset.refresh) return;
  var every = parseInt(main.dataset.refresh, 10) || 5000;

  function busy() {
    // Do not replace a form the reader is typing in.
    var a = document.activeElement;
    return a && main.contains(a) && (a.tagName === "INPUT" || a.tagName === "SELECT");
  }

  function refresh() {
    if (document.hidden || busy()) return schedule();
    fetch(location.href, { headers: { "X-Console-Fragment": "1" }, cache: "no-store" })
      .then(function (r) {
        if (!r.ok) throw new Error(r.status + " " + r.statusText);
        return r.text();
      })
      .then(function (html) {
        main.innerHTML = html;
        live.textContent = "live · " + new Date().toLocaleTimeString();
        live.classList.remove("stale");
      })
      .catch(function (e) {
        live.textContent = "not refreshing: " + e.message;
        live.classList.add("stale");
      })
      .then(schedule);
  }

  function schedule() { setTimeout(refresh, every); }
  schedule();
})();
