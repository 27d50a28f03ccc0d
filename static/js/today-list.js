// Today's Patients: the list refreshes itself (hx-trigger "every Ns" on #today-list), and a
// refresh replaces every row. While a row's box is being used (a field inside the list has
// the focus, or holds something other than what the page brought), the refresh is skipped,
// so nothing typed or chosen is lost. It resumes by itself once the row's action is sent
// (the list answers with fresh rows) or the box is emptied and left.
// htmx trigger filters ("every 15s [cond]") are evaluated with Function(), which the CSP
// (script-src 'self') and htmx.config.allowEval=false refuse: the check is a listener here.
(function () {
  "use strict";

  function changed(field) {
    if (field.disabled || field.type === "hidden" || field.type === "submit" || field.type === "button") {
      return false;
    }
    if (field.tagName === "SELECT") {
      for (var i = 0; i < field.options.length; i++) {
        if (field.options[i].selected !== field.options[i].defaultSelected) { return true; }
      }
      return false;
    }
    if (field.type === "checkbox" || field.type === "radio") {
      return field.checked !== field.defaultChecked;
    }
    return field.value !== field.defaultValue;
  }

  function busy(list) {
    var active = document.activeElement;
    if (active && active !== list && list.contains(active) && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName)) {
      return true;
    }
    var fields = list.querySelectorAll("input, select, textarea");
    for (var i = 0; i < fields.length; i++) {
      if (changed(fields[i])) { return true; }
    }
    return false;
  }

  function showPaused(paused) {
    var note = document.getElementById("today-paused");
    if (note) { note.hidden = !paused; }
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var list = event.detail && event.detail.elt;
    // Only the list's own refresh: row actions and the filters are requests of their forms
    // and boxes, never of #today-list itself.
    if (!list || list.id !== "today-list") { return; }
    var paused = busy(list);
    showPaused(paused);
    if (paused) { event.preventDefault(); }
  });

  // A row's action answered (the rows were replaced): the note goes.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail && event.detail.target && event.detail.target.id === "today-list") { showPaused(false); }
  });
})();
