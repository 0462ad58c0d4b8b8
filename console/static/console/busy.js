// Feedback for every console form that changes something (POST): while its request runs the submit
// buttons are disabled, the form is aria-busy and the clicked button says "Working…", so nobody clicks
// twice or wonders whether anything happened; the previous error message is cleared at once, so it is
// never read as the answer to the new attempt. Restored when the answer arrives (htmx), and when the page
// comes back from the back/forward cache. Static file, no inline script (strict CSP).
(function () {
  "use strict";

  var WORKING = "Working…";

  function buttons(form) {
    return form.querySelectorAll("button[type=submit], button:not([type]), input[type=submit]");
  }

  function clearErrors(form) {
    var stale = document.querySelectorAll("#messages .message-error, #messages .message-warning");
    for (var i = 0; i < stale.length; i++) {
      stale[i].parentNode.removeChild(stale[i]);
    }
    var fieldErrors = form.querySelectorAll(".field-error");
    for (var j = 0; j < fieldErrors.length; j++) {
      fieldErrors[j].parentNode.removeChild(fieldErrors[j]);
    }
  }

  function setBusy(form, submitter) {
    form.setAttribute("aria-busy", "true");
    form.setAttribute("data-busy", "");
    var list = buttons(form);
    for (var i = 0; i < list.length; i++) {
      list[i].disabled = true;
    }
    if (submitter) {
      submitter.setAttribute("data-label", submitter.textContent);
      submitter.textContent = WORKING;
    }
  }

  function restore(form) {
    if (!form.hasAttribute("data-busy")) {
      return;
    }
    form.removeAttribute("aria-busy");
    form.removeAttribute("data-busy");
    var list = buttons(form);
    for (var i = 0; i < list.length; i++) {
      list[i].disabled = false;
      if (list[i].hasAttribute("data-label")) {
        list[i].textContent = list[i].getAttribute("data-label");
        list[i].removeAttribute("data-label");
      }
    }
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    // GET forms only read (the queue's filters refresh as one types): nothing to guard.
    if (!form || (form.method || "").toLowerCase() !== "post" || form.hasAttribute("data-no-busy")) {
      return;
    }
    if (form.hasAttribute("data-busy")) {
      event.preventDefault(); // a second click while the first request runs
      return;
    }
    clearErrors(form);
    var submitter = event.submitter || null;
    // After this event's handlers ran: the browser (or htmx) has read the form, clicked button included
    // (a disabled button would not be sent, and "Save and approve" is told apart by its value).
    window.setTimeout(function () { setBusy(form, submitter); }, 0);
  });

  // htmx answered (swapped or not): a form still in the page is usable again.
  document.addEventListener("htmx:afterRequest", function (event) {
    var elt = event.detail && event.detail.elt;
    if (elt && elt.tagName === "FORM") {
      restore(elt);
    }
  });

  // Back/forward cache: the page comes back as it was left, buttons disabled; make it usable.
  window.addEventListener("pageshow", function () {
    var forms = document.querySelectorAll("form[data-busy]");
    for (var i = 0; i < forms.length; i++) {
      restore(forms[i]);
    }
  });
})();
