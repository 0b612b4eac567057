// The operator console's own script (no build step): SLA countdowns tick every second,
// and the queue's "select all" box selects every NEW alert.
(function () {
  "use strict";
  function span(seconds) {
    var s = Math.abs(seconds), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    if (h) { return h + " h " + (m < 10 ? "0" : "") + m + " min"; }
    if (m) { return m + " min"; }
    return Math.floor(s) + " s";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll(".countdown[data-due]").forEach(function (el) {
      var due = Date.parse(el.getAttribute("data-due"));
      if (isNaN(due)) { return; }
      var seconds = Math.round((due - now) / 1000);
      el.textContent = seconds >= 0 ? "due in " + span(seconds) : "overdue by " + span(seconds);
      var row = el.closest("tr");
      if (row && seconds < 0) { row.classList.add("overdue"); }
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    tick();
    setInterval(tick, 1000);
    var all = document.getElementById("select-all");
    if (all) {
      all.addEventListener("change", function () {
        document.querySelectorAll("#queue-rows input[name=alert_id]").forEach(function (box) {
          box.checked = all.checked;
        });
      });
    }
  });
  document.addEventListener("htmx:afterSwap", tick);
})();
