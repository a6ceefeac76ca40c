// The Customer Center's only script. Card forms ([data-tokenise]): the card number goes from this
// browser to the payment processor's tokenise endpoint; only the token it answers is submitted here.
"use strict";
(function () {
  function value(form, name) {
    var el = form.querySelector('[data-card="' + name + '"]');
    return el ? el.value.replace(/\s+/g, "") : "";
  }
  function showError(form, message) {
    var box = form.querySelector("[data-card-error]");
    if (box) { box.textContent = message; box.hidden = false; }
  }
  function tokenField(form) {
    return form.querySelector('input[name="card_token"]') || form.querySelector('input[name="token"]');
  }
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute("data-tokenise")) return;
    var field = tokenField(form);
    if (field.value) return; // tokenised already: let it go
    event.preventDefault();
    var button = form.querySelector('button[type="submit"]');
    if (button) button.disabled = true;
    fetch("/sandbox/v1/tokens", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "omit",
      body: JSON.stringify({
        number: value(form, "number"),
        exp_month: parseInt(value(form, "exp_month"), 10),
        exp_year: parseInt(value(form, "exp_year"), 10),
        cvc: value(form, "cvc")
      })
    }).then(function (response) {
      return response.json().then(function (body) { return { ok: response.ok, body: body }; });
    }).then(function (answer) {
      if (!answer.ok) {
        var error = answer.body && answer.body.error;
        showError(form, (error && error.message) || "The card was refused.");
        if (button) button.disabled = false;
        return;
      }
      field.value = answer.body.token;
      form.querySelectorAll("[data-card]").forEach(function (el) { el.value = ""; });
      form.submit();
    }).catch(function () {
      showError(form, "The payment processor could not be reached. Try again.");
      if (button) button.disabled = false;
    });
  });
  // Receipts: the print button.
  document.addEventListener("click", function (event) {
    if (event.target.matches("[data-print]")) window.print();
  });
})();
