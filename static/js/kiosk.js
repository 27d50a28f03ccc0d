// The tablet handed to a patient (templates/assessments/kiosk.html): when the kiosk session
// ends (data-kiosk-seconds-left, from the server, counted from page load so a wrong tablet
// clock does not matter), the screen is cleared at once — the patient's name and ticked
// answers are removed — and the browser goes to the kiosk page, which the server then answers
// with "This tablet session has ended: please hand the tablet back" (the session is ended there
// as expired). location.replace: Back does not bring the form back.
(function () {
  var screen = document.querySelector("[data-kiosk-seconds-left]");
  if (!screen) return;
  var left = parseInt(screen.getAttribute("data-kiosk-seconds-left"), 10);
  if (!(left >= 0)) return;
  // One second after the server's expiry (the count is rounded up on the server too).
  var deadline = Date.now() + (left + 1) * 1000;
  var url = screen.getAttribute("data-kiosk-ended-url") || "/kiosk";
  var done = false;

  function clearScreen() {
    var box = document.createElement("section");
    box.className = "card auth-card center kiosk-ended";
    var h = document.createElement("h1");
    h.className = "h2";
    h.textContent = "This tablet session has ended";
    var p = document.createElement("p");
    p.textContent = "Please hand the tablet back to the staff.";
    box.appendChild(h);
    box.appendChild(p);
    screen.replaceChildren(box);
    document.title = "Session ended";
  }

  function check() {
    if (done || Date.now() < deadline) return;
    done = true;
    clearScreen();
    window.location.replace(url);
  }

  var timer = window.setInterval(function () { check(); if (done) window.clearInterval(timer); }, 1000);
  window.setTimeout(check, Math.max(deadline - Date.now(), 0));
  // A tablet that slept or a page restored from the back/forward cache: check at once.
  document.addEventListener("visibilitychange", check);
  window.addEventListener("pageshow", check);
  window.addEventListener("focus", check);
})();
