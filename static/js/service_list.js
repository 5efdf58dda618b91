// The service list's checkboxes: "select this page" ticks every row, and a counter says
// how many are ticked; and the folded filter panel's loading error. Delegated from
// document so that it survives htmx swaps.
(function () {
  "use strict";

  function refresh(form) {
    const boxes = form.querySelectorAll('input[name="ids"]');
    const ticked = form.querySelectorAll('input[name="ids"]:checked').length;
    const pageBox = form.querySelector("[data-select-page]");
    if (pageBox) {
      pageBox.checked = boxes.length > 0 && ticked === boxes.length;
      pageBox.indeterminate = ticked > 0 && ticked < boxes.length;
    }
    const counter = form.querySelector("[data-selected-count]");
    if (counter) {
      counter.hidden = ticked === 0;
      counter.querySelector("span").textContent = String(ticked);
    }
  }

  document.addEventListener("change", function (event) {
    const form = event.target.closest("#bulk-form");
    if (!form) return;
    if (event.target.matches("[data-select-page]")) {
      form.querySelectorAll('input[name="ids"]').forEach(function (box) {
        box.checked = event.target.checked;
      });
    }
    refresh(form);
  });

  // The folded filter panel asks for its fields when it opens (hx-get on
  // [data-filter-cells]): if they cannot come, it says so rather than spinning on.
  ["htmx:responseError", "htmx:sendError"].forEach(function (name) {
    document.addEventListener(name, function (event) {
      const cells = event.target.closest && event.target.closest("[data-filter-cells]");
      if (!cells) return;
      cells.textContent = cells.dataset.error;
      cells.classList.replace("text-body-secondary", "text-danger");
    });
  });
})();
