// Refund desk console: small htmx helpers. No inline scripts anywhere (strict CSP), everything
// here is an enhancement: without JavaScript every action is a plain form post.
(function () {
  "use strict";

  // The queue refreshes itself; don't poll from a tab nobody looks at, and don't refresh while
  // the agent has a filter control in hand (their typing would be overtaken by stale results).
  document.addEventListener("htmx:confirm", function (event) {
    var elt = event.detail.elt;
    // Only the results region carries data-poll, and its only trigger is the timer.
    if (!elt || !elt.hasAttribute || !elt.hasAttribute("data-poll")) {
      return;
    }
    var active = document.activeElement;
    var filters = document.getElementById("queue-filters");
    // Nor while refunds are ticked for a bulk decision: the refresh would swap the selection away.
    var ticked = elt.querySelector && elt.querySelector("input[name=refund]:checked");
    if (document.hidden || ticked || (filters && active && filters.contains(active) && active.tagName !== "BUTTON")) {
      event.preventDefault();
    }
  });

  // After an action swaps the card, move focus to its message so screen readers and keyboard users
  // land on the outcome ("Approved", "refused: …") instead of the top of the page.
  document.addEventListener("htmx:afterSettle", function (event) {
    // Fired on each element the swap put in the page (for an outerHTML swap: the new card).
    var target = event.target;
    if (!target || !target.querySelector) {
      return;
    }
    var message = target.querySelector("[data-focus-after-swap]");
    if (message && !target.querySelector("[autofocus]")) {
      message.focus();
    }
  });

  // "Copy link" beside a read-only field (the customer's status link on the card, a webhook secret
  // shown once; `data-copy-done` words the confirmation). The button is
  // hidden in the HTML and shown here: without JavaScript the field itself can be selected and copied.
  function wireCopyButtons(root) {
    var buttons = root.querySelectorAll ? root.querySelectorAll("[data-copy-from]") : [];
    Array.prototype.forEach.call(buttons, function (button) {
      button.hidden = false;
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    wireCopyButtons(document);
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    wireCopyButtons(event.target);
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-copy-from]") : null;
    if (!button) {
      return;
    }
    var field = document.getElementById(button.getAttribute("data-copy-from"));
    var status = document.getElementById(button.getAttribute("data-copy-status"));
    if (!field) {
      return;
    }
    var done = function () {
      if (status) {
        status.textContent = button.getAttribute("data-copy-done") || "Link copied.";
      }
    };
    field.select();
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(field.value).then(done, function () {
        // No clipboard permission (an http page, a locked-down browser): the text is selected for Ctrl+C.
        if (status) {
          status.textContent = "Press Ctrl+C (or Cmd+C) to copy the selected text.";
        }
      });
    } else {
      document.execCommand("copy");
      done();
    }
  });
})();
