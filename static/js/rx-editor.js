// Prescription editor: add, remove and reorder medication lines in place, then number
// the fields lines-<i>-<key> (and their ids, labels, datalists and hints l<i>-…) in the
// order shown. A line is a fieldset.rx-line (cards on a phone). No inline scripts (CSP).
(function () {
  "use strict";
  var body = document.getElementById("rx-lines");
  var form = document.getElementById("rx-form");
  var tpl = document.getElementById("rx-line-template");
  if (!body || !form || !tpl) return;

  function lines() { return Array.prototype.slice.call(body.querySelectorAll(".rx-line")); }

  function renumber() {
    lines().forEach(function (line, i) {
      line.querySelectorAll("[name]").forEach(function (el) {
        var m = /^lines-\d+-(\w+)$/.exec(el.name);
        if (m) el.name = "lines-" + i + "-" + m[1];
      });
      line.querySelectorAll("[id]").forEach(function (el) {
        el.id = el.id.replace(/^l\d+-/, "l" + i + "-");
      });
      ["for", "list"].forEach(function (attr) {
        line.querySelectorAll("[" + attr + "]").forEach(function (el) {
          el.setAttribute(attr, el.getAttribute(attr).replace(/^l\d+-/, "l" + i + "-"));
        });
      });
      var legend = line.querySelector("legend");
      if (legend) legend.textContent = "Medicine line " + (i + 1);
    });
  }

  function changed() {
    renumber();
    form.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function clear(line) {
    line.querySelectorAll("input, select").forEach(function (el) {
      if (el.type === "hidden") el.remove();
      else if (el.tagName === "SELECT") el.selectedIndex = 0;
      else el.value = "";
    });
    var hint = line.querySelector(".rx-hint");
    if (hint) hint.textContent = "";
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
    if (!btn || btn.classList.contains("med-option")) return;
    var line = btn.closest(".rx-line");
    if (!line) return;
    if (btn.classList.contains("rx-remove")) {
      if (lines().length > 1) line.remove();
      else clear(line);
      changed();
    } else if (btn.classList.contains("rx-up") && line.previousElementSibling) {
      body.insertBefore(line, line.previousElementSibling);
      changed();
      btn.focus();
    } else if (btn.classList.contains("rx-down") && line.nextElementSibling) {
      body.insertBefore(line.nextElementSibling, line);
      changed();
      btn.focus();
    }
  });

  // A named duration (Continuous, As Directed …) has no number.
  function durationUnit(el) {
    var num = el.closest(".rx-line").querySelector("input[name$=duration_value]");
    if (!num) return;
    var named = ["days", "weeks", "months"].indexOf(el.value) < 0;
    num.disabled = named;
    if (named) num.value = "";
  }
  body.addEventListener("change", function (e) {
    if (e.target.name && /duration_unit$/.test(e.target.name)) durationUnit(e.target);
  });
  body.querySelectorAll("select[name$=duration_unit]").forEach(durationUnit);

  form.addEventListener("submit", renumber);
})();
