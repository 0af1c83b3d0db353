// Lantai site-wide behaviour. No inline scripts anywhere: the CSP allows only this origin.
(function () {
  "use strict";
  document.querySelectorAll("select.js-autosubmit").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
})();
