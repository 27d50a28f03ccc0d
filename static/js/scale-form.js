// Rating-scale forms (templates/assessments/_items.html): a digit key chooses the answer with
// that value in the item that has the focus (or the first unanswered one) and moves the focus
// to the next item, so a scale is filled from the keyboard alone. Tab/arrow keys work as usual.
(function () {
  function items(form) { return Array.prototype.slice.call(form.querySelectorAll("fieldset.scale-item")); }
  function current(form) {
    var active = document.activeElement;
    var set = active && active.closest ? active.closest("fieldset.scale-item") : null;
    if (set && form.contains(set)) return set;
    return items(form).find(function (f) { return !f.querySelector("input:checked"); }) || null;
  }
  function focusItem(set) {
    if (!set) return;
    var target = set.querySelector("input:checked") || set.querySelector("input[type=radio]");
    if (target) { target.focus(); set.scrollIntoView({block: "nearest"}); }
  }
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || !/^[0-9]$/.test(e.key)) return;
    var form = e.target && e.target.closest ? e.target.closest("form.scale-form") : null;
    if (!form && e.target === document.body) form = document.querySelector("form.scale-form");
    if (!form || (e.target.tagName === "TEXTAREA") || (e.target.type === "text")) return;
    var set = current(form);
    if (!set) return;
    var radio = set.querySelector('input[type=radio][value="' + e.key + '"]');
    if (!radio) return;
    e.preventDefault();
    radio.checked = true;
    radio.dispatchEvent(new Event("change", {bubbles: true}));
    var all = items(form);
    var next = all.slice(all.indexOf(set) + 1).find(function (f) { return !f.querySelector("input:checked"); })
      || all[all.indexOf(set) + 1];
    if (next) focusItem(next);
    else { var save = form.querySelector("button[type=submit]"); if (save) save.focus(); }
  });
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("form.scale-form");
    if (form) focusItem(current(form) || items(form)[0]);
  });
})();
