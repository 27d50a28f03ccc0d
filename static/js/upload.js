// Patient files panel: drag-and-drop + picker, XHR upload with a real progress bar.
// Works for any number of panels inserted at any time (event delegation), and is safe
// to load more than once. No inline scripts or styles (CSP).
(function () {
  "use strict";
  if (window.EMRSUpload) return;
  window.EMRSUpload = true;

  function panelOf(el) { return el && el.closest ? el.closest(".pf-panel") : null; }
  function q(root, sel) { return root.querySelector(sel); }

  function csrfToken(form) {
    var input = form.querySelector("input[name=csrf_token]");
    if (input && input.value) return input.value;
    var raw = document.body.getAttribute("hx-headers");
    if (raw) {
      try { return JSON.parse(raw)["X-CSRFToken"] || ""; } catch (e) { return ""; }
    }
    return "";
  }

  function humanSize(n) {
    if (n < 1024) return n + " B";
    if (n < 1024 * 1024) return (n / 1024).toFixed(1) + " KB";
    return (n / (1024 * 1024)).toFixed(1) + " MB";
  }

  function setError(panel, html, text) {
    var slot = q(panel, ".pf-errors");
    if (!slot) return;
    slot.textContent = "";
    if (html) {
      slot.innerHTML = html; // our own server-rendered, escaped fragment
    } else if (text) {
      var box = document.createElement("div");
      box.className = "form-errors pf-error";
      box.setAttribute("role", "alert");
      var p = document.createElement("p");
      p.textContent = text;
      box.appendChild(p);
      slot.appendChild(box);
    }
  }

  function showChosen(panel) {
    var form = q(panel, ".pf-upload");
    var input = q(panel, ".pf-input");
    var list = q(panel, ".pf-chosen");
    var clear = q(panel, ".pf-clear");
    var files = input.files || [];
    list.textContent = "";
    var maxSize = parseInt(form.dataset.maxSize, 10) || 0;
    var maxFiles = parseInt(form.dataset.maxFiles, 10) || 0;
    var problems = [];
    for (var i = 0; i < files.length; i++) {
      var li = document.createElement("li");
      var name = document.createElement("span");
      name.className = "pf-chosen-name";
      name.textContent = files[i].name;
      var size = document.createElement("span");
      size.className = "muted small";
      size.textContent = humanSize(files[i].size);
      li.appendChild(name);
      li.appendChild(size);
      if (maxSize && files[i].size > maxSize) {
        li.className = "pf-too-big";
        problems.push(files[i].name + ": larger than 10 MB");
      }
      list.appendChild(li);
    }
    if (maxFiles && files.length > maxFiles) problems.unshift("Too many files. Maximum " + maxFiles + " files allowed.");
    list.hidden = files.length === 0;
    clear.hidden = files.length === 0;
    setError(panel, null, problems.join(" · "));
  }

  function clearChosen(panel) {
    var input = q(panel, ".pf-input");
    input.value = "";
    showChosen(panel);
  }

  document.addEventListener("change", function (e) {
    if (e.target.classList && e.target.classList.contains("pf-input")) showChosen(panelOf(e.target));
  });

  document.addEventListener("click", function (e) {
    var btn = e.target.closest ? e.target.closest(".pf-clear") : null;
    if (btn) clearChosen(panelOf(btn));
  });

  // Drag and drop onto the zone.
  ["dragenter", "dragover"].forEach(function (type) {
    document.addEventListener(type, function (e) {
      var zone = e.target.closest ? e.target.closest(".pf-drop") : null;
      if (!zone) return;
      e.preventDefault();
      zone.classList.add("is-over");
    });
  });
  ["dragleave", "drop"].forEach(function (type) {
    document.addEventListener(type, function (e) {
      var zone = e.target.closest ? e.target.closest(".pf-drop") : null;
      if (!zone) return;
      if (type === "dragleave" && zone.contains(e.relatedTarget)) return;
      zone.classList.remove("is-over");
      if (type !== "drop") return;
      e.preventDefault();
      if (!e.dataTransfer || !e.dataTransfer.files || !e.dataTransfer.files.length) return;
      var panel = panelOf(zone);
      var input = q(panel, ".pf-input");
      try {
        input.files = e.dataTransfer.files;
      } catch (err) {
        setError(panel, null, "This browser cannot take dropped files here. Use “choose files”.");
        return;
      }
      showChosen(panel);
    });
  });

  function finish(panel, busy) {
    var form = q(panel, ".pf-upload");
    q(panel, ".pf-submit").disabled = busy;
    form.setAttribute("aria-busy", busy ? "true" : "false");
  }

  // The form stays on the page after an upload: the next upload is a new submission
  // (the server stores one upload per token, emrs/submission.py).
  function newSubmissionToken(form) {
    var input = form.querySelector("input[name=_submission]");
    if (!input || !window.crypto || !window.crypto.getRandomValues) return;
    var bytes = new Uint8Array(24);
    window.crypto.getRandomValues(bytes);
    input.value = Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form.classList || !form.classList.contains("pf-upload")) return;
    if (!window.XMLHttpRequest || !window.FormData) return; // plain form post still works
    e.preventDefault();
    var panel = panelOf(form);
    var input = q(panel, ".pf-input");
    if (!input.files || !input.files.length) {
      setError(panel, null, "Choose or drop at least one file first.");
      return;
    }
    var bar = q(panel, ".pf-progress");
    var progress = q(bar, "progress");
    var pct = q(bar, ".pf-pct");
    var data = new FormData(form);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-CSRFToken", csrfToken(form));
    xhr.setRequestHeader("HX-Request", "true");
    xhr.upload.onprogress = function (ev) {
      if (!ev.lengthComputable) { progress.removeAttribute("value"); pct.textContent = ""; return; }
      var p = Math.round((ev.loaded / ev.total) * 100);
      progress.value = p;
      pct.textContent = p + "%";
    };
    xhr.onload = function () {
      finish(panel, false);
      bar.hidden = true;
      var redirect = xhr.getResponseHeader("HX-Redirect");
      if (redirect) { window.location.href = redirect; return; }
      if (xhr.status === 200) {
        var old = q(panel, ".pf-list");
        var holder = document.createElement("div");
        holder.innerHTML = xhr.responseText;
        var fresh = holder.querySelector(".pf-list");
        if (old && fresh) {
          old.replaceWith(fresh);
          if (window.htmx) window.htmx.process(fresh);
        }
        setError(panel, null, "");
        clearChosen(panel);
        newSubmissionToken(form);
      } else if (xhr.status === 413) {
        setError(panel, null, "What you sent is larger than the limit. Nothing was saved.");
      } else if (xhr.responseText && /form-errors/.test(xhr.responseText)) {
        setError(panel, xhr.responseText);
      } else {
        setError(panel, null, "Upload failed (error " + xhr.status + "). Nothing was saved; please try again.");
      }
    };
    xhr.onerror = function () {
      finish(panel, false);
      bar.hidden = true;
      setError(panel, null, "The upload did not reach the server. Check the connection and try again.");
    };
    setError(panel, null, "");
    progress.value = 0;
    pct.textContent = "0%";
    bar.hidden = false;
    finish(panel, true);
    xhr.send(data);
  });

  // Errors from htmx requests inside the panel (e.g. delete refused): show the message.
  document.addEventListener("htmx:responseError", function (e) {
    var panel = panelOf(e.detail && e.detail.elt);
    if (!panel) return;
    var xhr = e.detail.xhr;
    if (xhr && /form-errors/.test(xhr.responseText || "")) setError(panel, xhr.responseText);
    else setError(panel, null, "The request failed (error " + (xhr ? xhr.status : "?") + ").");
  });
})();
