// "Select all" for a bulk form: <input type="checkbox" data-select-all="FORM_ID"> ticks or clears
// every checkbox that belongs to that form, and follows them (ticked only when all are).
(function () {
  "use strict";
  function boxes(formId) {
    return Array.prototype.slice.call(
      document.querySelectorAll('input[type=checkbox][form="' + formId + '"]'));
  }
  document.addEventListener("change", function (e) {
    var t = e.target;
    var all = t.getAttribute && t.getAttribute("data-select-all");
    if (all) {
      boxes(all).forEach(function (b) { b.checked = t.checked; });
      return;
    }
    var formId = t.getAttribute && t.getAttribute("form");
    if (!formId) return;
    var master = document.querySelector('[data-select-all="' + formId + '"]');
    if (master) master.checked = boxes(formId).every(function (b) { return b.checked; });
  });
})();
