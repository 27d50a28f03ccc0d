// ICD picker for the walk-in proforma's diagnosis. No inline scripts or styles (CSP);
// event delegation, so pickers inserted later (HTMX swaps) work; safe to load twice.
//
// Markup contract (the page provides it; the server renders the results fragment):
//
//   <div data-icd-picker>
//     <label for="icd_query">ICD code or diagnosis</label>
//     <input id="icd_query" type="search" name="icd_query" autocomplete="off"
//            role="combobox" aria-expanded="false" aria-controls="icd_results"
//            hx-get="/clinical/icd-search" hx-trigger="input changed delay:200ms"
//            hx-target="next .icd-results" hx-sync="this:replace">
//     <div class="icd-results" id="icd_results" aria-live="polite"></div>
//     <input type="text" name="icd_code" readonly>      (or type="hidden")
//     <input type="text" name="icd_title" readonly>     (or type="hidden")
//     <input type="hidden" name="icd_system">           ("ICD-10" | "ICD-11")
//   </div>
//
// The fragment from GET /clinical/icd-search?q= is a list of
//   <button type="button" class="icd-option" data-icd-code data-icd-title data-icd-system>
// (plus "Use ICD-11 code 6A70 (typed by hand)" when q looks like an ICD-11 code).
// Clicking an option (or Enter on the highlighted one) fills icd_code, icd_title,
// icd_system and the search box ("F32.1 — Moderate depressive episode"), empties the
// list and fires a bubbling "icd:picked" event on the container (detail = {code, title,
// system}). Keys in the search box: ArrowDown / ArrowUp move through the options,
// Enter picks, Escape closes. Clearing the search box does not clear a chosen code.
(function () {
  "use strict";
  if (window.EMRSIcdPicker) return;
  window.EMRSIcdPicker = true;

  function pickerOf(el) { return el && el.closest ? el.closest("[data-icd-picker]") : null; }
  function results(picker) { return picker.querySelector(".icd-results"); }
  function query(picker) { return picker.querySelector("input[name=icd_query]"); }
  function options(picker) {
    var box = results(picker);
    return box ? Array.prototype.slice.call(box.querySelectorAll("[data-icd-code]")) : [];
  }
  function setValue(picker, name, value) {
    var input = picker.querySelector("input[name=" + name + "]");
    if (input) {
      input.value = value;
      input.dispatchEvent(new Event("change", { bubbles: true }));
    }
  }
  function setExpanded(picker, open) {
    var q = query(picker);
    if (q) q.setAttribute("aria-expanded", open ? "true" : "false");
  }

  function close(picker) {
    var box = results(picker);
    if (box) box.textContent = "";
    setExpanded(picker, false);
  }

  function pick(picker, option) {
    var code = option.getAttribute("data-icd-code") || "";
    var title = option.getAttribute("data-icd-title") || "";
    var system = option.getAttribute("data-icd-system") || "";
    setValue(picker, "icd_code", code);
    setValue(picker, "icd_title", title);
    setValue(picker, "icd_system", system);
    var q = query(picker);
    if (q) {
      q.value = title ? code + " — " + title : code;
      q.focus();
    }
    close(picker);
    picker.dispatchEvent(new CustomEvent("icd:picked", { bubbles: true,
      detail: { code: code, title: title, system: system } }));
  }

  function highlight(picker, index) {
    window.EMRSListbox.highlight(options(picker), index, query(picker));
  }
  function activeIndex(picker) {
    return window.EMRSListbox.activeIndex(options(picker));
  }


  document.addEventListener("click", function (ev) {
    var option = ev.target.closest ? ev.target.closest("[data-icd-code]") : null;
    var picker = pickerOf(option);
    if (option && picker) {
      ev.preventDefault();
      pick(picker, option);
      return;
    }
    // A click outside an open picker closes its list.
    document.querySelectorAll("[data-icd-picker]").forEach(function (p) {
      if (!p.contains(ev.target) && options(p).length) close(p);
    });
  });

  document.addEventListener("keydown", function (ev) {
    var picker = pickerOf(ev.target);
    if (!picker) return;
    var inQuery = ev.target.matches && ev.target.matches("input[name=icd_query]");
    var onOption = ev.target.hasAttribute && ev.target.hasAttribute("data-icd-code");
    if (!inQuery && !onOption) return;
    var opts = options(picker);
    var i = activeIndex(picker);
    if (onOption) i = opts.indexOf(ev.target);
    if (ev.key === "ArrowDown" && opts.length) {
      ev.preventDefault();
      highlight(picker, window.EMRSListbox.step(opts, i, 1));
    } else if (ev.key === "ArrowUp" && opts.length) {
      ev.preventDefault();
      highlight(picker, window.EMRSListbox.step(opts, i, -1));
    } else if (ev.key === "Enter") {
      if (i >= 0 && opts[i]) {
        ev.preventDefault();  // never submit the proforma from the search box
        pick(picker, opts[i]);
      } else if (inQuery) {
        ev.preventDefault();
      }
    } else if (ev.key === "Escape") {
      if (opts.length || (results(picker) && results(picker).textContent.trim())) {
        ev.preventDefault();
        close(picker);
      }
    }
  });

  // New results arrived: mark the list open, highlight nothing yet.
  document.addEventListener("htmx:afterSwap", function (ev) {
    var picker = pickerOf(ev.target);
    if (!picker || !ev.target.classList.contains("icd-results")) return;
    setExpanded(picker, options(picker).length > 0);
    highlight(picker, -1);
  });
})();
