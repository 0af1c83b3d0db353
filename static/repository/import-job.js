/* The import job page: polls the job's status every second, moves the progress bar, and
   reloads the page (which then shows the report) when the job has finished. No library. */
(function () {
  "use strict";

  var section = document.getElementById("import-job");
  if (!section) { return; }
  var url = section.getAttribute("data-status-url");
  var bar = document.getElementById("import-job-progress");
  var rows = document.getElementById("import-job-rows");

  function show(status) {
    if (status.rows_total) {
      bar.max = status.rows_total;
      bar.value = Math.min(status.rows_done, status.rows_total);
      rows.textContent = status.rows_done + " / " + status.rows_total;
    } else {
      rows.textContent = String(status.rows_done);
    }
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (status) {
        if (status && (status.state === "done" || status.state === "failed")) {
          window.location.reload();
          return;
        }
        if (status) { show(status); }
        window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 1000); });
  }

  window.setTimeout(poll, 1000);
})();
