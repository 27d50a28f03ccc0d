// The user form: the Resident grade applies to Residents only. Shown when the role is
// Resident; hidden (and emptied) otherwise, so another role never sends a grade.
(function () {
  "use strict";
  function setUp() {
    var role = document.querySelector("form select[name=role]");
    var grade = document.querySelector("form select[name=sub_role]");
    if (!role || !grade) return;
    var box = grade.closest(".field") || grade;
    function sync() {
      var resident = role.value === "Resident";
      box.hidden = !resident;
      if (!resident) grade.value = "";
    }
    role.addEventListener("change", sync);
    sync();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setUp);
  else setUp();
})();
