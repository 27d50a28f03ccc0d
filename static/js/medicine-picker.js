// Medicine picker for prescription lines (formulary search as you type). No inline
// scripts or styles (CSP); event delegation, so lines added later (cloned rows, HTMX
// swaps) work with no set-up; safe to load twice.
//
// Markup contract (the page provides it; the server renders the results fragment):
//
//   <tr class="rx-line">                        (the "line": [data-med-line], .rx-line or tr;
//     <td data-med-picker>                        without one, the picker's parent element)
//       <input type="text" name="lines-0-medicine" autocomplete="off"      (name ends in "medicine")
//              hx-get="/prescriptions/medicines/search"
//              hx-trigger="input changed delay:200ms"
//              hx-target="next .med-results">
//       <div class="med-results"></div>
//     </td>
//     <td><input name="lines-0-dosage"></td>   (optional; name ends in "dosage")
//   </tr>
//
// The request always carries the box's text as ?q= (added here on htmx:configRequest, so
// hx-params="none" or any input name works). GET /prescriptions/medicines/search?q= answers
// a list of
//   <button type="button" class="med-option" data-medicine="Nexito" data-strengths="5mg, 10mg, 20mg">
//     Nexito (Escitalopram) <small>5mg · 10mg · 20mg</small></button>
// Clicking an option (or Enter on the highlighted one) writes data-medicine into the
// medicine input (firing a change event), empties the list, fills the line's strength
// datalist with data-strengths (clearing a strength the new medicine does not come in),
// sets an empty form select to the first of data-forms, and moves focus to the strength. A bubbling
// "medicine:picked" event is fired on the picker (detail = {medicine, generic, strengths}).
// Keys in the medicine input: ArrowDown / ArrowUp move through the options, Enter picks
// the highlighted one (and never submits the form while the list is open), Escape closes.
// Free text is always allowed: nothing forces a pick.
(function () {
  "use strict";
  if (window.EMRSMedicinePicker) return;
  window.EMRSMedicinePicker = true;

  var INPUT = "input[name$=medicine]";

  function pickerOf(el) { return el && el.closest ? el.closest("[data-med-picker]") : null; }
  function results(picker) { return picker.querySelector(".med-results"); }
  function input(picker) { return picker.querySelector(INPUT); }
  function options(picker) {
    var box = results(picker);
    return box ? Array.prototype.slice.call(box.querySelectorAll(".med-option[data-medicine]")) : [];
  }
  function lineOf(picker) {
    return picker.closest("[data-med-line], .rx-line, tr") || picker.parentElement || picker;
  }
  function setExpanded(picker, open) {
    var q = input(picker);
    if (q && q.hasAttribute("role")) q.setAttribute("aria-expanded", open ? "true" : "false");
  }
  function isOpen(picker) {
    var box = results(picker);
    return !!(box && box.textContent.trim());
  }

  function close(picker) {
    var box = results(picker);
    if (box) box.textContent = "";
    setExpanded(picker, false);
    var q = input(picker);
    if (q) q.removeAttribute("aria-activedescendant");
  }

  // The line's strength box offers the medicine's strengths (its datalist, and the first one
  // as placeholder); its form select takes the medicine's usual form. Without a strength box
  // (an older page), the strengths are hinted in an EMPTY dosage input's placeholder.
  function offerStrengths(picker, strengths, forms) {
    var line = lineOf(picker);
    var list = strengths ? strengths.split(/\s*,\s*/).filter(Boolean) : [];
    var strength = line.querySelector("input[name$=strength]");
    if (strength) {
      var dl = strength.list || (strength.getAttribute("list") && document.getElementById(strength.getAttribute("list")));
      if (dl) {
        dl.textContent = "";
        list.forEach(function (s) { var o = document.createElement("option"); o.value = s; dl.appendChild(o); });
      }
      if (strength.value && list.length && list.indexOf(strength.value) < 0) strength.value = "";
      strength.setAttribute("placeholder", list.length ? list.join(" / ") : "e.g. 10 mg");
      var form = line.querySelector("select[name$=form]");
      var first = forms ? forms.split(/\s*,\s*/)[0] : "";
      if (form && first && !form.value) form.value = first;
      return;
    }
    var dosage = picker.querySelector("input[name$=dosage]") || line.querySelector("input[name$=dosage]");
    if (!dosage || dosage.value) return;
    if (!dosage.hasAttribute("data-med-placeholder")) {
      dosage.setAttribute("data-med-placeholder", dosage.getAttribute("placeholder") || "");
    }
    dosage.setAttribute("placeholder", strengths || dosage.getAttribute("data-med-placeholder"));
  }

  function pick(picker, option) {
    var medicine = option.getAttribute("data-medicine") || "";
    var strengths = option.getAttribute("data-strengths") || "";
    var q = input(picker);
    if (q) {
      q.value = medicine;
      q.setAttribute("data-med-picked", medicine);  // the next "input" is ours, not the user's
      q.dispatchEvent(new Event("change", { bubbles: true }));
      q.focus();
    }
    close(picker);
    offerStrengths(picker, strengths, option.getAttribute("data-forms") || "");
    var line = lineOf(picker);
    var next = line.querySelector("input[name$=strength]");
    if (next) next.focus();  // keyboard: pick, then the strength
    picker.dispatchEvent(new CustomEvent("medicine:picked", { bubbles: true,
      detail: { medicine: medicine, generic: option.getAttribute("data-generic") || "", strengths: strengths } }));
  }

  function highlight(picker, index) {
    window.EMRSListbox.highlight(options(picker), index, input(picker));
  }
  function activeIndex(picker) {
    return window.EMRSListbox.activeIndex(options(picker));
  }


  // Send the box's text as ?q=, whatever the input is called and whatever hx-params says.
  document.addEventListener("htmx:configRequest", function (ev) {
    var elt = ev.detail && ev.detail.elt;
    if (!elt || !elt.matches || !elt.matches(INPUT) || !pickerOf(elt)) return;
    if (ev.detail.verb && ev.detail.verb.toLowerCase() !== "get") return;
    var params = ev.detail.parameters;
    var value = elt.value || "";
    if (params && typeof params.set === "function") params.set("q", value);
    else if (params) params.q = value;
  });

  document.addEventListener("click", function (ev) {
    var option = ev.target.closest ? ev.target.closest(".med-option[data-medicine]") : null;
    var picker = pickerOf(option);
    if (option && picker) {
      ev.preventDefault();
      pick(picker, option);
      return;
    }
    // A click outside an open picker closes its list.
    document.querySelectorAll("[data-med-picker]").forEach(function (p) {
      if (!p.contains(ev.target) && isOpen(p)) close(p);
    });
  });

  document.addEventListener("keydown", function (ev) {
    var picker = pickerOf(ev.target);
    if (!picker) return;
    var inInput = ev.target.matches && ev.target.matches(INPUT);
    var onOption = ev.target.classList && ev.target.classList.contains("med-option");
    if (!inInput && !onOption) return;
    var opts = options(picker);
    var i = onOption ? opts.indexOf(ev.target) : activeIndex(picker);
    if (ev.key === "ArrowDown" && opts.length) {
      ev.preventDefault();
      highlight(picker, window.EMRSListbox.step(opts, i, 1));
    } else if (ev.key === "ArrowUp" && opts.length) {
      ev.preventDefault();
      highlight(picker, window.EMRSListbox.step(opts, i, -1));
    } else if (ev.key === "Enter") {
      if (i >= 0 && opts[i]) {
        ev.preventDefault();  // never submit the prescription from the medicine box
        pick(picker, opts[i]);
      } else if (isOpen(picker)) {
        ev.preventDefault();
      }
    } else if (ev.key === "Escape") {
      if (isOpen(picker)) {
        ev.preventDefault();
        close(picker);
      }
    } else if (ev.key === "Tab" && isOpen(picker) && inInput) {
      close(picker);  // leaving the box keeps the typed text
    }
  });

  // New results arrived: mark the list open, highlight nothing yet. Results that arrive
  // after a pick (a request already on its way) are dropped.
  document.addEventListener("htmx:afterSwap", function (ev) {
    var box = ev.target;
    if (!box.classList || !box.classList.contains("med-results")) return;
    var picker = pickerOf(box);
    if (!picker) return;
    var q = input(picker);
    if (q && q.getAttribute("data-med-picked") !== null && q.value === q.getAttribute("data-med-picked")) {
      close(picker);
      return;
    }
    setExpanded(picker, options(picker).length > 0);
    highlight(picker, -1);
  });

  // Typing again after a pick is a new search.
  document.addEventListener("input", function (ev) {
    if (ev.target.matches && ev.target.matches(INPUT) && pickerOf(ev.target)) {
      ev.target.removeAttribute("data-med-picked");
    }
  }, true);
})();
