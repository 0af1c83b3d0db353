/* Type-ahead suggestions for the search box, and facet checkboxes that submit on change.
   No library; the endpoint answers {"suggestions": [{text, reference_code, kind, id}]}. */
(function () {
  "use strict";

  document.querySelectorAll("input.js-autosubmit[type=checkbox]").forEach(function (box) {
    box.addEventListener("change", function () { box.form.submit(); });
  });

  document.querySelectorAll("input[data-suggest-url]").forEach(function (input) {
    var list = input.parentNode.querySelector(".search-suggestions");
    var timer = null;
    var latest = 0;

    function hide() { list.hidden = true; list.textContent = ""; }

    function show(suggestions) {
      list.textContent = "";
      suggestions.forEach(function (s) {
        var li = document.createElement("li");
        var button = document.createElement("button");
        button.type = "button";
        button.className = "suggestion";
        var code = document.createElement("code");
        code.textContent = s.reference_code;
        button.appendChild(code);
        button.appendChild(document.createTextNode(" " + s.text));
        button.addEventListener("mousedown", function (event) {
          event.preventDefault();
          input.value = s.reference_code;
          hide();
          input.form.submit();
        });
        li.appendChild(button);
        list.appendChild(li);
      });
      list.hidden = suggestions.length === 0;
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      var value = input.value.trim();
      if (value.length < 2) { latest++; hide(); return; }  // an answer still on its way is stale
      timer = setTimeout(function () {
        var ticket = ++latest;
        fetch(input.dataset.suggestUrl + "?q=" + encodeURIComponent(value), {
          headers: { Accept: "application/json" },
          credentials: "same-origin"
        })
          .then(function (response) { return response.ok ? response.json() : { suggestions: [] }; })
          .then(function (data) { if (ticket === latest) { show(data.suggestions || []); } })
          .catch(hide);
      }, 150);
    });
    input.addEventListener("blur", function () { setTimeout(hide, 100); });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { clearTimeout(timer); latest++; hide(); }
    });
  });
})();
