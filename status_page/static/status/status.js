/* Refund status page: the parts that need JavaScript. The page is complete without it.
 *
 * htmx polls the status card (hx-trigger="every …") and swaps it in place. A
 * swapped card carries `data-announce` only when the status itself changed;
 * that text goes into the persistent live region (#status-live), which screen
 * readers announce politely. Focus is never moved: the card holds nothing
 * focusable, so whatever the reader was on keeps focus.
 */
(function () {
  "use strict";

  var hint = document.getElementById("refresh-hint");
  if (hint && hint.dataset.liveText) {
    hint.textContent = hint.dataset.liveText;
  }

  document.addEventListener("htmx:load", function (event) {
    var card = event.target;
    if (!card || card.id !== "status-card") {
      return;
    }
    if (card.dataset.pageTitle) {
      document.title = card.dataset.pageTitle;
    }
    var text = card.dataset.announce;
    var live = document.getElementById("status-live");
    if (text && live) {
      live.textContent = text;
    }
    if (hint && !card.hasAttribute("hx-get")) {
      hint.hidden = true;  // a final state: nothing will change any more
    }
  });
})();
