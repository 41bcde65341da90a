// The search page's live results: after htmx swaps them in, the polite live
// region says how many there are and the tab title follows the query.
(function () {
  "use strict";

  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== "search-results") return;
    var count = target.querySelector("[data-announce]");
    var region = document.getElementById("announce");
    if (region) {
      region.textContent = count ? count.textContent.trim() : "";
    }
    var input = document.getElementById("search-q");
    var query = input ? input.value.trim() : "";
    document.title = (query ? query + " · Search" : "Search") + " · Scope Doctor";
  });
})();
