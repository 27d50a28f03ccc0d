// Autosaved form drafts: never lose typing.
//
// Attach to a form by markup (no inline script; CSP script-src 'self'):
//   <form method="post" data-autosave-key="proforma:new" data-autosave-patient="12"
//         data-autosave-url="/drafts/save">
//     ... fields ...
//     <p class="autosave-status" data-autosave-status></p>   (created if missing)
//   </form>
//   <script src="/static/js/autosave.js" defer></script>
//
// What it does:
// - on input/change: save the whole form (FormData; a field with several values is sent
//   several times) to data-autosave-url after 1.5 s without typing, and every 15 s while
//   there are unsaved changes (also after a failed save: "Not saved — will retry");
// - a session that ended (401 + HX-Redirect): FIRST keep the form in sessionStorage under
//   "emrs-draft:u<user id>:<key>:<patient>", then go to the sign-in page (which comes back here);
// - on page load: a kept copy *of the signed-in user* (body[data-emrs-user]) is put back into
//   the fields, saved at once, then removed; copies of other users are never read (app.js
//   drops them on every signed-in page), and signing out (form[data-emrs-logout]) sends the
//   last typing by beacon, stops every form and drops every copy: on a shared computer the
//   next user never gets the previous user's typing, nor saves it as theirs;
// - leaving the page with unsaved changes: navigator.sendBeacon (CSRF token in the body);
// - submitting the form stops autosaving (the server clears the draft when the record is
//   saved); discarding the draft (form[data-draft-discard]) stops it too.
// Events on the form: "emrs:autosave:saved" (detail: server JSON), "emrs:autosave:error"
// (detail: {status, message}), "emrs:autosave:restored" (detail: {fields}).
// API: window.EMRSAutosave.attach(form) -> controller, .detach(form), .flush(form) -> Promise,
//      .stashKey(key, patient), .controllers().
(function () {
  "use strict";
  if (window.EMRSAutosave) return;

  var DEBOUNCE_MS = 1500;
  var INTERVAL_MS = 15000;
  var KEEPALIVE_MAX = 60000;           // fetch keepalive bodies are limited to 64 KB
  var STASH_PREFIX = "emrs-draft:";
  var STASH_MAX_AGE_MS = 24 * 3600 * 1000;
  var SUBMITTED_STASH_MAX_AGE_MS = 30 * 60 * 1000;
  var SKIP = { csrf_token: true, version: true };
  var all = [];
  var token = null;
  var signingOut = false;

  function stored(name) { return !!name && name.charAt(0) !== "_" && !SKIP[name]; }
  function hasOwn(o, k) { return Object.prototype.hasOwnProperty.call(o, k); }

  // ------------------------------------------------------------------ CSRF token
  function csrfToken() {
    if (token) return token;
    var raw = document.body && document.body.getAttribute("hx-headers");
    if (raw) {
      try { token = JSON.parse(raw)["X-CSRFToken"] || null; } catch (e) { token = null; }
    }
    if (!token) {
      var input = document.querySelector("input[name=csrf_token]");
      if (input) token = input.value;
    }
    return token || "";
  }

  function setToken(fresh) {
    token = fresh;
    var raw = document.body.getAttribute("hx-headers");
    var headers = {};
    if (raw) { try { headers = JSON.parse(raw) || {}; } catch (e) { headers = {}; } }
    headers["X-CSRFToken"] = fresh;
    document.body.setAttribute("hx-headers", JSON.stringify(headers));
    // The page's own forms would fail with the old token too.
    var inputs = document.querySelectorAll("input[name=csrf_token]");
    for (var i = 0; i < inputs.length; i++) inputs[i].value = fresh;
  }

  // ------------------------------------------------------------------ form state
  function fields(form) {
    var out = {};
    new FormData(form).forEach(function (value, name) {
      if (typeof value !== "string" || !stored(name)) return; // files are never drafted
      if (hasOwn(out, name)) {
        if (!Array.isArray(out[name])) out[name] = [out[name]];
        out[name].push(value);
      } else {
        out[name] = value;
      }
    });
    return out;
  }

  function eachValue(f, fn) {
    Object.keys(f).forEach(function (name) {
      [].concat(f[name]).forEach(function (v) { fn(name, v); });
    });
  }

  function restore(form, f) {
    var els = form.elements;
    var seen = {};
    for (var i = 0; i < els.length; i++) {
      var el = els[i];
      var name = el.name;
      if (!name || !stored(name) || el.disabled) continue;
      var type = (el.type || "").toLowerCase();
      if (/^(file|submit|button|reset|image)$/.test(type)) continue;
      var has = hasOwn(f, name);
      var vals = has ? [].concat(f[name]) : [];
      if (type === "checkbox" || type === "radio") {
        el.checked = vals.indexOf(el.value) !== -1; // absent from the copy = not checked
        continue;
      }
      if (!has) continue;
      if (el.tagName === "SELECT" && el.multiple) {
        for (var j = 0; j < el.options.length; j++) el.options[j].selected = vals.indexOf(el.options[j].value) !== -1;
        continue;
      }
      var n = seen[name] || 0;  // repeated fields (table rows) take the values in order
      seen[name] = n + 1;
      if (n < vals.length) el.value = vals[n];
    }
  }

  // ------------------------------------------------------------------ sessionStorage copy
  // Keyed by the signed-in user: a copy is only ever restored for the user who typed it.
  function currentUser() { return (document.body && document.body.getAttribute("data-emrs-user")) || ""; }

  function stashKey(key, patient, user) {
    return STASH_PREFIX + "u" + (user === undefined ? currentUser() : user) + ":" + key + ":" + (patient || "");
  }

  function dropAllStashes() {
    [window.sessionStorage, window.localStorage].forEach(function (store) {
      try {
        for (var i = store.length - 1; i >= 0; i--) {
          var name = store.key(i);
          if (name && name.indexOf(STASH_PREFIX) === 0) store.removeItem(name);
        }
      } catch (e) { /* storage unavailable */ }
    });
  }

  function readStash(name) {
    try {
      var raw = window.sessionStorage.getItem(name);
      return raw ? JSON.parse(raw) : null;
    } catch (e) { return null; }
  }

  function writeStash(name, f, extra) {
    if (signingOut || name.indexOf(STASH_PREFIX + "u:") === 0) return false; // no user: nobody to keep it for
    try {
      var body = { t: Date.now(), at: new Date().toISOString(), url: location.pathname + location.search, fields: f };
      if (extra) Object.keys(extra).forEach(function (k) { body[k] = extra[k]; });
      window.sessionStorage.setItem(name, JSON.stringify(body));
      return true;
    } catch (e) { return false; }
  }

  function dropStash(name) {
    try { window.sessionStorage.removeItem(name); } catch (e) { /* storage unavailable */ }
  }

  // ------------------------------------------------------------------ one form
  function Controller(form) {
    this.form = form;
    this.key = form.getAttribute("data-autosave-key");
    this.patient = form.getAttribute("data-autosave-patient") || "";
    this.url = form.getAttribute("data-autosave-url") || "/drafts/save";
    this.stash = stashKey(this.key, this.patient);
    this.lastSaved = JSON.stringify(fields(form)); // what the server rendered needs no save
    this.inflight = null;
    this.again = false;
    this.timer = null;
    this.stopped = false;
    this.paused = false;
    this.statusEl = form.querySelector("[data-autosave-status]");
    if (!this.statusEl) {
      this.statusEl = document.createElement("p");
      this.statusEl.className = "autosave-status";
      this.statusEl.setAttribute("data-autosave-status", "");
      form.appendChild(this.statusEl);
    }
    this.statusEl.setAttribute("aria-live", "polite");
    if (!this.statusEl.getAttribute("role")) this.statusEl.setAttribute("role", "status");
    var self = this;
    this.interval = window.setInterval(function () { if (self.dirty()) self.save(); }, INTERVAL_MS);
  }

  Controller.prototype.active = function () { return !this.stopped && !this.paused; };

  Controller.prototype.dirty = function () {
    return this.active() && JSON.stringify(fields(this.form)) !== this.lastSaved;
  };

  Controller.prototype.status = function (text, state) {
    this.statusEl.textContent = text;
    if (state) this.statusEl.setAttribute("data-state", state);
    else this.statusEl.removeAttribute("data-state");
  };

  Controller.prototype.emit = function (name, detail) {
    var ev;
    try { ev = new CustomEvent(name, { bubbles: true, detail: detail }); } catch (e) { return; }
    this.form.dispatchEvent(ev);
  };

  Controller.prototype.changed = function () {
    if (!this.active()) return;
    var self = this;
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(function () { self.save(); }, DEBOUNCE_MS);
  };

  Controller.prototype.body = function (f) {
    var p = new URLSearchParams();
    eachValue(f, function (name, v) { p.append(name, v); });
    p.append("_draft_key", this.key);
    p.append("_draft_patient", this.patient);
    return p.toString();
  };

  // Save now (if anything changed). Resolves to true when the server has the form.
  Controller.prototype.save = function (opts) {
    opts = opts || {};
    var self = this;
    window.clearTimeout(this.timer);
    if (!this.active()) return Promise.resolve(false);
    if (this.inflight) { this.again = true; return this.inflight; }
    var f = fields(this.form);
    var snap = JSON.stringify(f);
    if (snap === this.lastSaved && !opts.force) return Promise.resolve(true);
    this.status("Saving…", "saving");
    this.inflight = this.send(f, snap, false, opts.keepalive).then(function (ok) {
      self.inflight = null;
      if (self.again && self.active()) { self.again = false; self.changed(); }
      return ok;
    });
    return this.inflight;
  };

  Controller.prototype.send = function (f, snap, retried, keepalive) {
    var self = this;
    var body = this.body(f);
    return fetch(this.url, {
      method: "POST",
      credentials: "same-origin",
      keepalive: !!keepalive && body.length < KEEPALIVE_MAX,
      headers: {
        "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8",
        "Accept": "application/json",
        "X-CSRFToken": csrfToken(),
        // An ended session then answers 401 + HX-Redirect (not a 302 to the login page),
        // and the sign-in page brings the user back to this page.
        "HX-Request": "true",
        "HX-Current-URL": location.href
      },
      body: body
    }).then(function (resp) {
      var redirect = resp.headers.get("HX-Redirect");
      if (resp.status === 401) {
        // FIRST keep what is in the fields now (including typing since the request left).
        writeStash(self.stash, fields(self.form));
        self.stop();
        if (redirect) {
          self.status("Your session ended — your typing is kept. Taking you to sign in…", "error");
          window.location.assign(redirect);
        } else {
          self.status("Not saved — sign in again; your typing is kept in this tab.", "error");
        }
        return false;
      }
      return resp.json().catch(function () { return {}; }).then(function (data) {
        if (resp.ok) {
          self.lastSaved = snap;
          dropStash(self.stash);
          self.status("Draft saved " + (data.saved_at_local || ""), "saved");
          self.emit("emrs:autosave:saved", data);
          return true;
        }
        if (resp.status === 400 && data.code === "csrf" && data.csrf_token && !retried) {
          setToken(data.csrf_token);
          return self.send(f, snap, true, keepalive);
        }
        var transient = resp.status >= 500 || resp.status === 429 || resp.status === 408 || !data.message;
        if (transient) writeStash(self.stash, f);
        self.status(transient ? "Not saved — will retry" : "Not saved — " + data.message, "error");
        self.emit("emrs:autosave:error", { status: resp.status, message: data.message || "" });
        return false;
      });
    }).catch(function () {
      writeStash(self.stash, f);
      self.status("Not saved — will retry", "error");
      self.emit("emrs:autosave:error", { status: 0, message: "network" });
      return false;
    });
  };

  // Leaving the page: the last changes go out by beacon (it survives the unload).
  Controller.prototype.beacon = function () {
    if (!this.active()) return;
    var f = fields(this.form);
    var snap = JSON.stringify(f);
    if (snap === this.lastSaved) return;
    var sent = false;
    if (navigator.sendBeacon && window.FormData) {
      var fd = new FormData();
      eachValue(f, function (name, v) { fd.append(name, v); });
      fd.append("_draft_key", this.key);
      fd.append("_draft_patient", this.patient);
      fd.append("csrf_token", csrfToken()); // Flask-WTF reads the form field as well
      try { sent = navigator.sendBeacon(this.url, fd); } catch (e) { sent = false; }
    }
    if (sent) this.lastSaved = snap;
    // The beacon's answer is never seen (an ended session refuses it): keep a copy in this
    // tab as well; the next successful save here removes it.
    writeStash(this.stash, f);
  };

  // Put back a copy kept in this tab (session ended, save failed), save it, forget it.
  Controller.prototype.restoreStash = function () {
    var kept = readStash(this.stash);
    dropStash(this.stash);
    if (!kept || !kept.fields || typeof kept.fields !== "object") return false;
    var age = Date.now() - (kept.t || 0);
    if (age > STASH_MAX_AGE_MS) return false;
    if (kept.submitted) {
      // Kept while submitting: only if the submit did not go through (a draft is still offered).
      if (age > SUBMITTED_STASH_MAX_AGE_MS || !this.serverDraftShown()) return false;
    }
    if (JSON.stringify(fields(this.form)) === JSON.stringify(kept.fields)) return false; // nothing newer
    restore(this.form, kept.fields);
    this.lastSaved = null; // differs from anything: save at once
    this.status("Restored your latest typing from this tab. Saving…", "saving");
    this.emit("emrs:autosave:restored", { fields: kept.fields });
    var self = this;
    this.save({ force: true }).then(function (ok) {
      if (!ok && self.active()) writeStash(self.stash, fields(self.form));
    });
    return true;
  };

  Controller.prototype.serverDraftShown = function () {
    var banners = document.querySelectorAll("[data-draft-banner]");
    for (var i = 0; i < banners.length; i++) {
      if (banners[i].getAttribute("data-draft-key") === this.key &&
          (banners[i].getAttribute("data-draft-patient") || "") === this.patient) return true;
    }
    return false;
  };

  Controller.prototype.submitting = function () {
    if (this.stopped) return;
    // Unsaved changes go with the submit; keep a copy in case the submit meets an ended session.
    var f = fields(this.form);
    if (JSON.stringify(f) !== this.lastSaved) writeStash(this.stash, f, { submitted: true });
    else dropStash(this.stash);
    this.paused = true;
    window.clearTimeout(this.timer);
    this.status("", null);
  };

  Controller.prototype.resume = function () {
    if (this.stopped || !this.paused) return;
    this.paused = false;
    if (this.dirty()) this.changed();
  };

  Controller.prototype.stop = function () {
    this.stopped = true;
    window.clearTimeout(this.timer);
    window.clearInterval(this.interval);
  };

  // ------------------------------------------------------------------ wiring
  function controllerOf(el) {
    var form = el && (el.form || (el.closest ? el.closest("form") : null));
    return form && form.__emrsAutosave && !form.__emrsAutosave.stopped ? form.__emrsAutosave : null;
  }

  function sendsByHtmx(form) {
    return ["hx-post", "hx-put", "hx-patch", "data-hx-post", "data-hx-put", "data-hx-patch"]
      .some(function (a) { return form.hasAttribute(a); });
  }

  function attach(form) {
    if (!form || form.tagName !== "FORM" || !form.getAttribute("data-autosave-key")) return null;
    if (form.__emrsAutosave && !form.__emrsAutosave.stopped) return form.__emrsAutosave;
    var c = new Controller(form);
    form.__emrsAutosave = c;
    all.push(c);
    form.addEventListener("submit", function (e) {
      c.submitting();
      // A script stopped the submit (client-side checks) and no htmx request goes out: keep saving.
      window.setTimeout(function () {
        if (e.defaultPrevented && !sendsByHtmx(form)) c.resume();
      }, 0);
    });
    form.addEventListener("htmx:afterRequest", function (e) {
      if (e.detail && e.detail.elt === form && !e.detail.successful) c.resume();
    });
    c.restoreStash();
    return c;
  }

  function detach(form) {
    var c = form && form.__emrsAutosave;
    if (!c) return;
    c.stop();
    all = all.filter(function (x) { return x !== c; });
    delete form.__emrsAutosave;
  }

  function attachWithin(root) {
    if (!root || !root.querySelectorAll) return;
    if (root.matches && root.matches("form[data-autosave-key]")) attach(root);
    var forms = root.querySelectorAll("form[data-autosave-key]");
    for (var i = 0; i < forms.length; i++) attach(forms[i]);
  }

  function onEdit(e) {
    var c = controllerOf(e.target);
    if (c && e.target.name && stored(e.target.name)) c.changed();
  }
  document.addEventListener("input", onEdit);
  document.addEventListener("change", onEdit);

  // Signing out: the last typing goes to the server as this user's draft (beacon, still
  // signed in), then every form stops and every copy in this browser is dropped.
  document.addEventListener("submit", function (e) {
    var f = e.target;
    if (!f || !f.hasAttribute || !f.hasAttribute("data-emrs-logout")) return;
    all.forEach(function (c) { c.beacon(); c.stop(); });
    signingOut = true;
    dropAllStashes();
  });

  // Discarding the draft: stop saving this form, so nothing brings the draft back.
  document.addEventListener("submit", function (e) {
    var f = e.target;
    if (!f || !f.hasAttribute || !f.hasAttribute("data-draft-discard")) return;
    var key = (f.querySelector("input[name=_draft_key]") || {}).value || "";
    var patient = (f.querySelector("input[name=_draft_patient]") || {}).value || "";
    dropStash(stashKey(key, patient));
    all.forEach(function (c) { if (c.key === key && c.patient === patient) c.stop(); });
  });

  function leaving() { all.forEach(function (c) { c.beacon(); }); }
  window.addEventListener("beforeunload", leaving);
  window.addEventListener("pagehide", leaving);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") all.forEach(function (c) { if (c.dirty()) c.save({ keepalive: true }); });
  });
  // Back to a page from the browser's cache after submitting: keep saving.
  window.addEventListener("pageshow", function (e) {
    if (e.persisted) all.forEach(function (c) { c.resume(); });
  });
  document.addEventListener("htmx:load", function (e) { attachWithin(e.detail && e.detail.elt); });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { attachWithin(document); });
  } else {
    attachWithin(document);
  }

  window.EMRSAutosave = {
    attach: attach,
    detach: detach,
    flush: function (form) {
      var c = form && form.__emrsAutosave;
      return c ? c.save() : Promise.resolve(false);
    },
    stashKey: stashKey,
    controllers: function () { return all.slice(); },
    DEBOUNCE_MS: DEBOUNCE_MS,
    INTERVAL_MS: INTERVAL_MS
  };
})();
