// Scope Doctor's small progressive enhancements. Every page works without
// this file: it only adds live filtering, copy buttons, the ticket's live
// fill-in and focus management after htmx swaps.
(function () {
  "use strict";

  // The same masking rules as troubleshooter/masking.py; keep them in step.
  var MASK = "[masked]";
  var CREDENTIAL_FIELDS =
    "x-portkey-api-key|x-portkey-virtual-key|x-api-key|api[-_]?key|" +
    "authorization|proxy-authorization|virtual[-_]?key|access[-_]?token|" +
    "secret|password|cookie";
  var NAMED_VALUE = new RegExp(
    "([\"']?(?:" + CREDENTIAL_FIELDS + ")[\"']?[ \\t]*[:=][ \\t]*)([\"']?)(?:(bearer|basic)[ \\t]+)?([^\\s\"',;}]+)",
    "gi"
  );
  var BEARER = /\b(bearer|basic)\s+(?!\[masked\])([A-Za-z0-9._~+\/=-]{8,})/gi;
  var KEY_LIKE = /(^|[^\w.-])([A-Za-z0-9_+=-]{24,})(?![\w-]|\.[\w-])/g;
  var UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

  function maskSecrets(text) {
    var count = 0;
    text = text.replace(NAMED_VALUE, function (all, name, quote, scheme, value) {
      if (value === MASK) return all;
      count += 1;
      return name + quote + (scheme ? scheme + " " : "") + MASK;
    });
    text = text.replace(BEARER, function (all, scheme) {
      count += 1;
      return scheme + " " + MASK;
    });
    text = text.replace(KEY_LIKE, function (all, before, candidate) {
      if (UUID.test(candidate)) return all;
      var digit = /[0-9]/.test(candidate);
      var mixed = /[A-Z]/.test(candidate) && /[a-z]/.test(candidate) && digit;
      if (!mixed && !(candidate.length >= 32 && /[A-Za-z]/.test(candidate) && digit)) {
        return all;
      }
      count += 1;
      return before + MASK;
    });
    return { text: text, count: count };
  }
  window.scopeDoctorMask = maskSecrets;

  function reveal(root) {
    root.querySelectorAll("[data-copy], [data-filter-box], [data-ticket-fields]").forEach(
      function (el) {
        el.hidden = false;
      }
    );
  }

  function announce(text) {
    var region = document.getElementById("announce");
    if (!region) return;
    region.textContent = "";
    window.setTimeout(function () {
      region.textContent = text;
    }, 50);
  }

  // Copy buttons: data-copy names the element whose text or value is copied.
  function copy(button) {
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source) return;
    var text = "value" in source && source.tagName !== "PRE" ? source.value : source.textContent;
    var label = button.textContent;
    var done = function () {
      button.textContent = "Copied";
      announce("Copied to the clipboard");
      window.setTimeout(function () {
        button.textContent = label;
      }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () {
        fallbackCopy(source, done);
      });
    } else {
      fallbackCopy(source, done);
    }
  }

  function fallbackCopy(source, done) {
    var area = document.createElement("textarea");
    area.value = "value" in source && source.tagName !== "PRE" ? source.value : source.textContent;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    document.body.appendChild(area);
    area.select();
    try {
      document.execCommand("copy");
      done();
    } finally {
      document.body.removeChild(area);
    }
  }

  // Filter-as-you-type over a list of choices.
  function filter(input) {
    var list = document.querySelector(input.getAttribute("data-filter-input"));
    if (!list) return;
    var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0;
    list.querySelectorAll("[data-filter-item]").forEach(function (item) {
      var text = item.textContent.toLowerCase();
      var match = words.every(function (word) {
        return text.indexOf(word) !== -1;
      });
      item.hidden = !match;
      if (match) shown += 1;
    });
    list.querySelectorAll("[data-filter-group]").forEach(function (group) {
      group.hidden = !group.querySelector("[data-filter-item]:not([hidden])");
    });
    announce(shown + (shown === 1 ? " match" : " matches"));
  }

  // The support ticket: typed values replace their placeholders, masked.
  function fillTicket(root) {
    var fields = root.querySelectorAll("[data-ticket-field]");
    if (!fields.length) return;
    var masked = 0;
    var values = [];
    fields.forEach(function (field) {
      var result = maskSecrets(field.value.trim());
      masked += result.count;
      values.push([field.getAttribute("data-placeholder"), result.text]);
    });
    root.querySelectorAll("[data-ticket-template]").forEach(function (pre) {
      var text = pre.getAttribute("data-ticket-template");
      values.forEach(function (pair) {
        if (pair[1]) text = text.split(pair[0]).join(pair[1]);
      });
      pre.textContent = text;
    });
    var note = root.querySelector("[data-masked-note]");
    if (note) note.hidden = masked === 0;
    var mail = root.querySelector("#ticket-mailto");
    var plain = root.querySelector("#ticket-plain");
    if (mail && plain) {
      var address = mail.getAttribute("href").split("?")[0];
      mail.setAttribute(
        "href",
        address +
          "?subject=" + encodeURIComponent(mail.getAttribute("data-subject")) +
          "&body=" + encodeURIComponent(plain.textContent)
      );
    }
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (button) copy(button);
  });
  document.addEventListener("input", function (event) {
    if (event.target.matches("[data-filter-input]")) filter(event.target);
    if (event.target.matches("[data-ticket-field]")) fillTicket(document);
  });

  // After an htmx swap of the wizard: show enhanced controls, move focus to
  // the new step's heading and announce it, and keep the tab title in step.
  document.addEventListener("htmx:afterSettle", function (event) {
    var wizard = document.getElementById("wizard");
    if (!wizard || !event.detail.target || event.detail.target.id !== "wizard") return;
    reveal(wizard);
    var heading = wizard.querySelector("h1");
    if (heading) {
      heading.focus();
      document.title = heading.textContent.trim() + " · Scope Doctor";
      announce(heading.textContent.trim());
    }
  });

  // A command pasted into the find box may carry a key: mask it before the
  // text leaves the browser (the server masks it too, for pages without JS).
  document.addEventListener("htmx:configRequest", function (event) {
    var params = event.detail.parameters;
    var find = params && params.get ? params.get("find") : null;
    if (typeof find === "string" && find) params.set("find", maskSecrets(find).text);
  });

  // Typing in the find box replaces the call list: keep a choice already
  // made if it is still listed, and say how many calls now match. The choice
  // comes back in afterSwap, which runs in the same task as the swap: settling
  // waits for a timer, and a "Next" pressed before it fired found no choice.
  var chosenCall = null;
  document.addEventListener("htmx:beforeSwap", function (event) {
    var list = event.detail.target;
    if (!list || list.id !== "target-list") return;
    var checked = list.querySelector('input[name="target"]:checked');
    chosenCall = checked ? checked.value : null;
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    // Fired on the new list itself after it replaced the old one.
    var list = event.target;
    if (!list || list.id !== "target-list") return;
    list.querySelectorAll('input[name="target"]').forEach(function (input) {
      if (input.value === chosenCall) input.checked = true;
    });
    chosenCall = null;
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    if (!event.target || event.target.id !== "target-list") return;
    var count = document.getElementById("target-count");
    if (count) announce(count.textContent.trim());
  });

  document.addEventListener("DOMContentLoaded", function () {
    reveal(document);
  });
})();
