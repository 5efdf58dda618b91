/* Creating or importing a service (templates/services/admin/create*.html); a file, not an
   inline script, because the Content-Security-Policy allows scripts from files only. */
(function () {
  "use strict";

  /* Step 1: choosing a product chooses its type too, since the two must match. */
  const product = document.getElementById("id_product");
  const module = document.getElementById("id_module");
  if (product && module && document.getElementById("service-target-form")) {
    product.addEventListener("change", function (event) {
      const key = event.target.selectedOptions[0]?.dataset.module;
      if (key) module.value = key;
    });
  }

  /* Step 2: the recurrence decides the prices and the expiration, so follow it with the
     product's values for that cycle. */
  const defaults = document.getElementById("cycle-defaults");
  const form = document.getElementById("service-form");
  if (defaults && form && form.elements.billing_cycle) {
    const values = JSON.parse(defaults.textContent);
    form.elements.billing_cycle.addEventListener("change", function (event) {
      const cycle = values[event.target.value] || {};
      for (const name of ["price", "initial_price", "expires_at"]) {
        if (name in cycle) form.elements[name].value = cycle[name];
      }
    });
  }
})();
