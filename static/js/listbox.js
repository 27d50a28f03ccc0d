// The option list shared by the as-you-type pickers (ICD codes, medicines): highlight
// an option for ArrowUp/ArrowDown and tell screen readers which one is active.
(function () {
  "use strict";
  if (window.EMRSListbox) return;
  var seq = 0;

  // Mark opts[index] active (index -1: none) and point the search box at it.
  function highlight(opts, index, box) {
    opts.forEach(function (o, i) {
      var on = i === index;
      o.classList.toggle("is-active", on);
      o.setAttribute("aria-selected", on ? "true" : "false");
      if (on && o.scrollIntoView) o.scrollIntoView({ block: "nearest" });
    });
    if (!box) return;
    if (index >= 0 && opts[index]) {
      if (!opts[index].id) opts[index].id = "lb-opt-" + (++seq);
      box.setAttribute("aria-activedescendant", opts[index].id);
    } else {
      box.removeAttribute("aria-activedescendant");
    }
  }

  function activeIndex(opts) {
    for (var i = 0; i < opts.length; i++) if (opts[i].classList.contains("is-active")) return i;
    return -1;
  }

  // The index after moving by +1/-1 from i, wrapping around.
  function step(opts, i, delta) {
    if (!opts.length) return -1;
    if (delta > 0) return (i + 1) % opts.length;
    return i <= 0 ? opts.length - 1 : i - 1;
  }

  window.EMRSListbox = { highlight: highlight, activeIndex: activeIndex, step: step };
})();
