// The header's patient search: ArrowDown/ArrowUp move through the results (wrapping), Enter
// opens the highlighted patient, Escape closes the list and keeps the typed text.
(function () {
  "use strict";
  function options() {
    return Array.prototype.slice.call(document.querySelectorAll("#qs-results .quick-list li > a"))
      .map(function (a) { return a.parentNode; });
  }
  document.addEventListener("keydown", function (e) {
    var box = e.target;
    if (!box || box.id !== "qs" || !window.EMRSListbox) return;
    var LB = window.EMRSListbox, opts = options();
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      if (!opts.length) return;
      e.preventDefault();
      LB.highlight(opts, LB.step(opts, LB.activeIndex(opts), e.key === "ArrowDown" ? 1 : -1), box);
    } else if (e.key === "Enter") {
      var i = LB.activeIndex(opts);
      if (i >= 0) { e.preventDefault(); window.location.assign(opts[i].querySelector("a").href); }
    } else if (e.key === "Escape") {
      var results = document.getElementById("qs-results");
      if (results) results.innerHTML = "";
      box.removeAttribute("aria-activedescendant");
    }
  });
  // A new list from the server starts with nothing highlighted.
  document.addEventListener("htmx:afterSwap", function (e) {
    if (e.target && e.target.id === "qs-results") {
      var box = document.getElementById("qs");
      if (box) box.removeAttribute("aria-activedescendant");
    }
  });
})();
