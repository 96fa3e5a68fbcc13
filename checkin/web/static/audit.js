// The officer's dashboard refreshes its numbers in place every N seconds (data-refresh), only while
// the tab is visible, with one same-origin GET: no reload, no lost scroll position, no library.
(function () {
  "use strict";
  var marker = document.querySelector("[data-refresh]");
  var live = document.getElementById("live");
  if (!marker || !live || !window.fetch || !window.DOMParser) return;
  var seconds = Math.max(15, parseInt(marker.getAttribute("data-refresh"), 10) || 30);
  function refresh() {
    if (document.hidden) return;
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) return;
        var page = new DOMParser().parseFromString(html, "text/html");
        var fresh = page.getElementById("live");
        var stamp = page.querySelector("[data-refresh]");
        if (!fresh) return;  // the session ended: the login page came back; leave the page as it is
        var open = Array.prototype.map.call(live.querySelectorAll("details[open]"), function (d) {
          return d.closest("[data-gate]") && d.closest("[data-gate]").getAttribute("data-gate");
        });
        live.replaceWith(fresh);
        live = fresh;
        open.forEach(function (gate) {
          var box = gate && live.querySelector('[data-gate="' + gate + '"] details');
          if (box) box.open = true;
        });
        if (stamp) marker.textContent = stamp.textContent;
      })
      .catch(function () {});
  }
  window.setInterval(refresh, seconds * 1000);
})();
