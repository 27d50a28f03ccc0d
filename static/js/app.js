// EMRS front-end helpers. No inline scripts anywhere (CSP: script-src 'self').
(function () {
  "use strict";
  // One-time code fields: keep digits only, submit once when six are typed. A code is sent
  // by itself at most once: after a refusal the field comes back empty, and the same six
  // digits typed again wait for the button (each wrong try counts towards a lock).
  var LAST_CODE = "emrs.otp.lastAutoSubmitted";
  function lastCode() { try { return sessionStorage.getItem(LAST_CODE); } catch (_) { return null; } }
  function rememberCode(v) { try { sessionStorage.setItem(LAST_CODE, v); } catch (_) { /* private mode */ } }
  document.addEventListener("input", function (e) {
    var el = e.target;
    if (!el.classList || !el.classList.contains("otp-input")) return;
    var digits = el.value.replace(/\D/g, "").slice(0, 6);
    if (el.value !== digits) el.value = digits;
    if (digits.length !== 6 || !el.form || el.form.dataset.submitted) return;
    if (lastCode() === digits) return;
    rememberCode(digits);
    el.form.dataset.submitted = "1";
    el.form.requestSubmit();
  });
  // A form with a code field is sent once per page, by the button or by typing.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form.querySelector || !form.querySelector(".otp-input")) return;
    if (form.dataset.sending) { e.preventDefault(); return; }
    form.dataset.sending = "1";
    form.dataset.submitted = "1";
  });
  // Back to a cached page: its forms may be sent again.
  window.addEventListener("pageshow", function (e) {
    if (!e.persisted) return;
    document.querySelectorAll("form[data-sending]").forEach(function (f) {
      delete f.dataset.sending; delete f.dataset.submitted;
    });
  });
  // After a refused code: the field is empty (the server sends no value) and focused.
  document.addEventListener("DOMContentLoaded", function () {
    var el = document.querySelector(".otp-input[data-refused='1']");
    if (el) { el.value = ""; el.focus(); }
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
