// <button data-print> opens the browser's print dialog (A4, with the hospital header and
// page numbers from the print stylesheet).
(function () {
  "use strict";
  document.addEventListener("click", function (e) {
    var t = e.target && e.target.closest ? e.target.closest("[data-print]") : null;
    if (t) { e.preventDefault(); window.print(); }
  });
})();
