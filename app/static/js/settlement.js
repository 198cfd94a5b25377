/* Settlement screen: confirm a final run; follow a running job and reload
   the page when it has finished. No inline script (CSP), no CDN. */
(function () {
  "use strict";
  var me = document.getElementById("settlement-js");
  var button = document.getElementById("final-run");
  if (button) {
    button.addEventListener("click", function (event) {
      var box = document.getElementById("confirm");
      if (box && box.checked && !window.confirm(me.getAttribute("data-confirm"))) {
        event.preventDefault();
      }
    });
  }
  var job = document.getElementById("job");
  var url = job && job.getAttribute("data-status-url");
  if (!url) { return; }
  function poll() {
    var request = new XMLHttpRequest();
    request.open("GET", url);
    request.onload = function () {
      if (request.status !== 200) { return; }
      var status = JSON.parse(request.responseText);
      if (status.state !== "running") { window.location.reload(); return; }
      var bar = document.getElementById("job-bar");
      var label = document.getElementById("job-text");
      if (status.total) { bar.style.width = Math.floor(100 * status.done / status.total) + "%"; }
      label.textContent = status.done + " / " + status.total;
      window.setTimeout(poll, 1000);
    };
    request.send();
  }
  window.setTimeout(poll, 1000);
})();
