/* A form that takes a while (data-busy="What it is doing…"): once sent, its submit button
   is disabled and says so with a spinner, and a screen reader hears it, so that nobody
   sends it twice or wonders whether anything happens. */
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.dataset.busy || event.defaultPrevented) {
    return;
  }
  const button = event.submitter || form.querySelector("[type=submit]");
  form.setAttribute("aria-busy", "true");
  if (button) {
    // Disabled after the browser has read the form, so that the button's own value is sent.
    setTimeout(() => {
      button.disabled = true;
      const spinner = document.createElement("span");
      spinner.className = "spinner-border spinner-border-sm me-2";
      spinner.setAttribute("aria-hidden", "true");
      button.replaceChildren(spinner, document.createTextNode(form.dataset.busy));
    }, 0);
  }
  const status = form.querySelector("[data-busy-status]");
  if (status) {
    status.textContent = form.dataset.busy;
  }
});
