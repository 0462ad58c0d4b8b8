// "Being viewed by …" on a refund card (console/presence.py): a heartbeat every data-heartbeat seconds
// says this person still has the card open and shows who else has. A hint only: any failure leaves the
// marker as it was (the server fails open too). A static file, loaded by a script tag (strict CSP).
(function () {
  "use strict";

  var marker = document.getElementById("presence");
  if (!marker || !window.fetch) {
    return;
  }
  var url = marker.getAttribute("data-presence-url");
  var every = (parseInt(marker.getAttribute("data-heartbeat"), 10) || 10) * 1000;
  var tokenInput = document.querySelector("input[name=csrfmiddlewaretoken]");
  var token = tokenInput ? tokenInput.value : "";

  function body(leave) {
    var data = new FormData();
    data.append("csrfmiddlewaretoken", token);
    if (leave) {
      data.append("leave", "1");
    }
    return data;
  }

  function show(viewers) {
    if (viewers && viewers.length) {
      marker.textContent = "Being viewed by " + viewers.join(", ");
      marker.hidden = false;
    } else {
      marker.textContent = "";
      marker.hidden = true;
    }
  }

  function beat() {
    if (document.hidden) {
      return;
    }
    fetch(url, { method: "POST", body: body(false), credentials: "same-origin", headers: { "X-CSRFToken": token } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (answer) { if (answer) { show(answer.viewers); } })
      .catch(function () { /* fail open: keep what is shown */ });
  }

  var timer = window.setInterval(beat, every);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) { beat(); } });
  // Leaving the card takes this person off it at once, rather than after the TTL.
  window.addEventListener("pagehide", function () {
    window.clearInterval(timer);
    if (navigator.sendBeacon) {
      navigator.sendBeacon(url, body(true));
    }
  });
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) {
      timer = window.setInterval(beat, every);
      beat();
    }
  });
})();
