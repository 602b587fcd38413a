// Ordo's one script. A page works fully without it; with it, the page's live region (the
// element with data-live="<stream URL>") is refreshed whenever one of the events named in its
// data-events arrives on that Server-Sent Events stream, and what changed is announced to
// screen readers (the fresh page's [data-announce] text, in a polite status region).
(function () {
  "use strict";
  var region = document.querySelector("[data-live]");
  if (!region || !window.EventSource || !window.fetch) return;
  var announcer = document.getElementById("live-status");
  var busy = false, again = false;
  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("[data-live]");
        if (!fresh) return;
        // Keep the keyboard where it was: refocus the same link or button after the swap.
        var focused = document.activeElement, key = null;
        if (focused && region.contains(focused)) key = focused.getAttribute("href") || focused.id;
        region.innerHTML = fresh.innerHTML;
        if (key) {
          var same = region.querySelector('[href="' + key + '"]') || document.getElementById(key);
          if (same) same.focus();
        }
        var said = fresh.querySelector("[data-announce]");
        if (announcer && said) announcer.textContent = said.textContent;
      })
      .catch(function () { /* the next event tries again */ })
      .then(function () { busy = false; if (again) { again = false; refresh(); } });
  }
  var source = new EventSource(region.getAttribute("data-live"));
  (region.getAttribute("data-events") || "").split(" ").forEach(function (kind) {
    if (kind) source.addEventListener(kind, refresh);
  });
  region.setAttribute("data-following", "yes");
})();
