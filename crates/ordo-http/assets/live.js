// Ordo's one script. A page works fully without it; with it, each of the page's live regions
// (an element with data-live="<stream URL>") is refreshed whenever one of the events named in
// its data-events arrives on that Server-Sent Events stream, and what changed is announced to
// screen readers (the fresh region's [data-announce] text, in a polite status region).
(function () {
  "use strict";
  var regions = document.querySelectorAll("[data-live]");
  if (!regions.length || !window.EventSource || !window.fetch) return;
  var announcer = document.getElementById("live-status");
  var busy = false, again = false;
  // One refetch of the page refreshes every region: events that come while it runs wait for
  // one more, never a pile of them.
  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var page = new DOMParser().parseFromString(html, "text/html");
        var fresh = page.querySelectorAll("[data-live]");
        regions.forEach(function (region, i) {
          if (!fresh[i] || fresh[i].innerHTML === region.innerHTML) return;
          // Keep the keyboard where it was: refocus the same link or button after the swap.
          var focused = document.activeElement, key = null;
          if (focused && region.contains(focused)) key = focused.getAttribute("href") || focused.id;
          region.innerHTML = fresh[i].innerHTML;
          if (key) {
            var same = region.querySelector('[href="' + key + '"]') || document.getElementById(key);
            if (same) same.focus();
          }
          var said = fresh[i].querySelector("[data-announce]");
          if (announcer && said) announcer.textContent = said.textContent;
        });
      })
      .catch(function () { /* the next event tries again */ })
      .then(function () { busy = false; if (again) { again = false; refresh(); } });
  }
  regions.forEach(function (region) {
    var source = new EventSource(region.getAttribute("data-live"));
    (region.getAttribute("data-events") || "").split(" ").forEach(function (kind) {
      if (kind) source.addEventListener(kind, refresh);
    });
    region.setAttribute("data-following", "yes");
  });
})();
