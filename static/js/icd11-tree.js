// ICD-11 tree (GET /clinical/icd11 and the proforma's "Browse ICD-11"): a toggle button shows or
// hides the entries under a node. The first press also loads them (htmx, hx-trigger="click once");
// later presses only show/hide what was loaded. No inline scripts or styles (CSP); event
// delegation, so toggles swapped in later work; safe to load twice.
//
// Keys: every toggle and every code is a button (Tab / Shift+Tab, Enter or Space). In the tree,
// ArrowRight opens a closed node, ArrowLeft closes an open one (or moves to its parent's toggle).
(function () {
  "use strict";
  if (window.EMRSIcd11Tree) return;
  window.EMRSIcd11Tree = true;

  function box(toggle) {
    var id = toggle.getAttribute("aria-controls");
    return id ? document.getElementById(id) : null;
  }

  function setOpen(toggle, open) {
    var kids = box(toggle);
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    if (kids) kids.hidden = !open;
  }

  document.addEventListener("click", function (ev) {
    var toggle = ev.target.closest ? ev.target.closest(".icd11-toggle") : null;
    if (!toggle) return;
    setOpen(toggle, toggle.getAttribute("aria-expanded") !== "true");
  });

  document.addEventListener("keydown", function (ev) {
    var el = ev.target;
    if (!el || !el.closest || !el.closest(".icd11-node")) return;
    var node = el.closest(".icd11-node");
    var toggle = node.querySelector(":scope > .icd11-row > .icd11-toggle");
    if (ev.key === "ArrowRight" && toggle && toggle.getAttribute("aria-expanded") !== "true") {
      ev.preventDefault();
      toggle.click();  // loads the children the first time (htmx listens for the click)
    } else if (ev.key === "ArrowLeft") {
      if (toggle && toggle.getAttribute("aria-expanded") === "true") {
        ev.preventDefault();
        setOpen(toggle, false);
        toggle.focus();
      } else {
        var up = node.parentElement && node.parentElement.closest(".icd11-node");
        var upToggle = up && up.querySelector(":scope > .icd11-row > .icd11-toggle");
        if (upToggle) {
          ev.preventDefault();
          upToggle.focus();
        }
      }
    }
  });
})();
