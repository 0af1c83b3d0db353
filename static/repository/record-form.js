/* The description form: the 门类 list shows only the categories of the chosen 全宗, and the
   案卷 field offers volumes whose reference code starts with what is typed (type-ahead from
   repository:staff-volume-lookup, through the record door). No library. */
(function () {
  "use strict";

  var fonds = document.getElementById("id_fonds");
  var category = document.getElementById("id_category");
  if (fonds && category) {
    var filter = function () {
      var chosen = fonds.value;
      Array.prototype.forEach.call(category.options, function (option) {
        var own = option.getAttribute("data-fonds");
        var show = !option.value || !chosen || own === chosen;
        option.hidden = !show;
        option.disabled = !show;
        if (!show && option.selected) { category.value = ""; }
      });
    };
    fonds.addEventListener("change", filter);
    filter();
  }

  var volume = document.getElementById("id_volume");
  var list = document.getElementById("volume-codes");
  if (!volume || !list) { return; }
  var url = volume.getAttribute("data-lookup-url");
  var timer = null;
  volume.addEventListener("input", function () {
    clearTimeout(timer);
    var q = volume.value.trim();
    if (q.length < 2) { return; }
    timer = setTimeout(function () {
      var params = new URLSearchParams({ q: q });
      if (category && category.value) { params.set("category", category.value); }
      fetch(url + "?" + params.toString(), { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : { results: [] }; })
        .then(function (data) {
          list.textContent = "";
          data.results.forEach(function (entry) {
            var option = document.createElement("option");
            option.value = entry.code;
            option.label = entry.title;
            list.appendChild(option);
          });
        })
        .catch(function () { /* the field still accepts a typed code */ });
    }, 200);
  });
})();
