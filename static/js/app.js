// EMRS front-end helpers. No inline scripts anywhere (CSP: script-src 'self').
(function () {
  "use strict";
  // One-time code fields: keep digits only, submit when six are typed.
  document.addEventListener("input", function (e) {
    var el = e.target;
    if (!el.classList || !el.classList.contains("otp-input")) return;
    var digits = el.value.replace(/\D/g, "").slice(0, 6);
    if (el.value !== digits) el.value = digits;
    if (digits.length === 6 && el.form && !el.form.dataset.submitted) {
      el.form.dataset.submitted = "1";
      el.form.requestSubmit();
    }
  });
  // An expired login inside an HTMX request: the server sends HX-Redirect (htmx follows it).
})();

// Long clinical forms (data-no-enter-submit): Enter in a one-line field must not
// submit half a proforma. Enter still works in text areas and on buttons.
document.addEventListener("keydown", function (e) {
  if (e.key !== "Enter" || e.defaultPrevented) return;
  var el = e.target;
  if (!el || el.tagName !== "INPUT") return;
  var form = el.form;
  if (!form || !form.hasAttribute("data-no-enter-submit")) return;
  var type = (el.getAttribute("type") || "text").toLowerCase();
  if (type === "submit" || type === "button" || type === "checkbox" || type === "radio") return;
  e.preventDefault();
});

// Autosave copies of unsaved typing (static/js/autosave.js, "emrs-draft:u<user id>:...") on a
// shared computer: a signed-in page drops every copy that is not the signed-in user's, and
// signing out drops them all, so the next user is never offered the previous user's typing.
(function () {
  "use strict";
  var PREFIX = "emrs-draft:";
  function drop(keep) {
    [window.sessionStorage, window.localStorage].forEach(function (store) {
      try {
        for (var i = store.length - 1; i >= 0; i--) {
          var name = store.key(i);
          if (name && name.indexOf(PREFIX) === 0 && (!keep || name.indexOf(keep) !== 0)) store.removeItem(name);
        }
      } catch (e) { /* storage unavailable */ }
    });
  }
  var user = document.body && document.body.getAttribute("data-emrs-user");
  if (user) drop(PREFIX + "u" + user + ":");
  document.addEventListener("submit", function (e) {
    if (e.target && e.target.hasAttribute && e.target.hasAttribute("data-emrs-logout")) drop(null);
  });
})();
