// Warn before leaving a page with typing that no save has taken yet.
// Forms marked data-warn-unsaved become "dirty" on input and clean again when they are
// submitted or an htmx save of the form succeeds (the section is swapped for the saved one).
// The autosaved draft keeps the typing either way; the warning says that it is not saved.
(function () {
  "use strict";
  var dirty = new Set();

  function formOf(el) { return el && el.closest ? el.closest("form[data-warn-unsaved]") : null; }

  document.addEventListener("input", function (e) {
    var form = formOf(e.target);
    if (form) dirty.add(form.getAttribute("action") || form.id);
  });
  document.addEventListener("submit", function (e) {
    var form = formOf(e.target);
    if (form) dirty.delete(form.getAttribute("action") || form.id);
  }, true);
  document.addEventListener("htmx:afterRequest", function (e) {
    var form = formOf(e.detail && e.detail.elt);
    if (form && e.detail.successful) dirty.delete(form.getAttribute("action") || form.id);
  });
  window.addEventListener("beforeunload", function (e) {
    if (dirty.size === 0) return undefined;
    e.preventDefault();
    e.returnValue = "";  // the browser shows its own "Leave site?" question
    return "";
  });
})();
