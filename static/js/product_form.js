/* The product form (templates/products/admin/form.html); a file, not an inline script,
   because the Content-Security-Policy allows scripts from files only. */
(function () {
  "use strict";

  /* "Add a price": a copy of the formset's empty form, numbered after the last row. */
  const button = document.getElementById("add-price");
  if (!button) return;
  button.addEventListener("click", function () {
    const total = document.getElementById("id_prices-TOTAL_FORMS");
    const template = document.getElementById("price-row-template").innerHTML;
    const row = template.replaceAll("__prefix__", total.value);
    document.querySelector("#prices tbody").insertAdjacentHTML("beforeend", row);
    total.value = Number(total.value) + 1;
  });
})();
