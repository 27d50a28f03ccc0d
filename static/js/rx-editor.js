// Prescription editor: add, remove and reorder medication lines in place, then number
// the fields lines-<i>-<key> in the order shown. No inline scripts (CSP).
(function () {
  "use strict";
  var body = document.getElementById("rx-lines");
  var form = document.getElementById("rx-form");
  var tpl = document.getElementById("rx-line-template");
  if (!body || !form || !tpl) return;

  function renumber() {
    Array.prototype.forEach.call(body.querySelectorAll("tr.rx-line"), function (tr, i) {
      tr.querySelectorAll("input").forEach(function (input) {
        var m = /^lines-\d+-(\w+)$/.exec(input.name);
        if (m) {
          input.name = "lines-" + i + "-" + m[1];
          input.id = "l" + i + "-" + m[1];
        }
      });
      tr.querySelectorAll("label[for]").forEach(function (label) {
        label.setAttribute("for", label.getAttribute("for").replace(/^l\d+-/, "l" + i + "-"));
      });
    });
  }

  function changed() {
    renumber();
    form.dispatchEvent(new Event("change", { bubbles: true }));
  }

  document.getElementById("rx-add").addEventListener("click", function () {
    var row = tpl.content.firstElementChild.cloneNode(true);
    body.appendChild(row);
    renumber();
    if (window.htmx) window.htmx.process(row);
    var first = row.querySelector("input");
    if (first) first.focus();
  });

  body.addEventListener("click", function (e) {
    var btn = e.target.closest("button");
    if (!btn) return;
    var tr = btn.closest("tr.rx-line");
    if (!tr) return;
    if (btn.classList.contains("rx-remove")) {
      if (body.querySelectorAll("tr.rx-line").length > 1) tr.remove();
      else tr.querySelectorAll("input").forEach(function (i) { i.value = ""; });
      changed();
    } else if (btn.classList.contains("rx-up") && tr.previousElementSibling) {
      body.insertBefore(tr, tr.previousElementSibling);
      changed();
      btn.focus();
    } else if (btn.classList.contains("rx-down") && tr.nextElementSibling) {
      body.insertBefore(tr.nextElementSibling, tr);
      changed();
      btn.focus();
    }
  });

  form.addEventListener("submit", renumber);
})();
