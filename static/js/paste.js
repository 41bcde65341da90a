// Paste to diagnose, the browser's half. Two small jobs, both optional (the
// pages work without them):
// 1. Refuse a paste over the size limit before it is sent, keeping the text.
// 2. Carry the trace ID, the masked error body and the workspace ID from the
//    paste summary to the support ticket on the fix page, through this tab's
//    sessionStorage only, and forget them once they are used. The fix page is
//    often reached by an htmx swap, so this file is loaded on every page.
(function () {
  "use strict";

  var KEY = "scope-doctor.paste";
  var MAX_AGE_MS = 60 * 60 * 1000;
  var FIELDS = { trace_id: "traceId", error_body: "errorBody", workspace_id: "workspaceId" };

  function storage() {
    try {
      return window.sessionStorage;
    } catch (error) {
      return null;
    }
  }

  function guardSize(event) {
    var form = event.target;
    if (!form.matches || !form.matches("[data-paste-form]")) return;
    var area = form.querySelector("textarea");
    var limit = parseInt(form.getAttribute("data-max-bytes"), 10);
    var message = form.querySelector("[data-paste-size-error]");
    if (!area || !limit || !message) return;
    if (new Blob([area.value]).size <= limit) {
      message.hidden = true;
      return;
    }
    event.preventDefault();
    message.textContent = message.getAttribute("data-message");
    message.hidden = false;
    area.focus();
  }

  function remember() {
    var source = document.querySelector("[data-paste-handoff]");
    var store = storage();
    if (!source || !store) return;
    var data = { saved: Date.now() };
    Object.keys(FIELDS).forEach(function (name) {
      data[name] = source.dataset[FIELDS[name]] || "";
    });
    try {
      store.setItem(KEY, JSON.stringify(data));
    } catch (error) {
      // Storage full or disabled: the ticket is then filled in by hand.
    }
  }

  function prefill() {
    var fields = document.querySelectorAll("[data-ticket-field]");
    var store = storage();
    if (!fields.length || !store) return;
    var raw = store.getItem(KEY);
    if (!raw) return;
    store.removeItem(KEY);
    var data;
    try {
      data = JSON.parse(raw);
    } catch (error) {
      return;
    }
    if (!data || typeof data.saved !== "number" || Date.now() - data.saved > MAX_AGE_MS) return;
    fields.forEach(function (field) {
      var value = data[field.getAttribute("data-ticket-field")];
      if (typeof value !== "string" || !value || field.value) return;
      field.value = value;
      // site.js rebuilds the ticket text (masking again) on input events.
      field.dispatchEvent(new Event("input", { bubbles: true }));
    });
  }

  document.addEventListener("submit", guardSize);
  document.addEventListener("DOMContentLoaded", function () {
    remember();
    prefill();
  });
  document.addEventListener("htmx:afterSettle", prefill);
})();
