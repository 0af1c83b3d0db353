/* The fonds page: "Preview the next codes" asks repository:staff-code-preview what the
   pattern being edited would assign next (nothing is saved). No library. */
(function () {
  "use strict";

  var section = document.getElementById("code-pattern");
  var button = document.getElementById("preview-button");
  if (!section || !button) { return; }
  var output = document.getElementById("preview-output");
  button.addEventListener("click", function () {
    var lines = [];
    var requests = ["volume", "item"].map(function (kind) {
      var params = new URLSearchParams({
        fonds: section.getAttribute("data-fonds"),
        category: document.getElementById("preview-category").value,
        kind: kind,
        pattern: document.getElementById("id_" + kind).value
      });
      return fetch(section.getAttribute("data-preview-url") + "?" + params.toString(), {
        credentials: "same-origin"
      })
        .then(function (response) { return response.json(); })
        .then(function (data) {
          lines.push(kind + ": " + (data.codes ? data.codes.join("  ") : data.errors.join(" ")));
        });
    });
    Promise.all(requests).then(function () { output.textContent = lines.join(" | "); });
  });
})();
