// <form data-confirm="Question?">: the browser asks before the form is sent (one-click actions
// that change an account or a visit). htmx forms use hx-confirm, which htmx asks itself.
(function () {
  "use strict";
  document.addEventListener("submit", function (e) {
    var form = e.target;
    var question = form && form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      e.preventDefault();
      e.stopPropagation();
    }
  }, true);
})();
