/* The desk's card form. A new card goes from Stripe's own fields (Elements) straight to Stripe with
 * confirmCardSetup; only the resulting SetupIntent id is posted to Chairside. The card on file needs no
 * script. A payment the bank wants confirmed (3-D Secure) comes back with a client secret, which
 * confirmCardPayment completes before the page posts the payment's id to "finish". */
(function () {
  "use strict";
  var form = document.getElementById("desk-payment");
  if (!form || typeof Stripe === "undefined") { return; }
  var stripe = Stripe(form.dataset.publishableKey);
  var errors = document.getElementById("card-errors");
  var button = document.getElementById("pay-button");
  var newCard = document.getElementById("new-card");
  var setupField = form.querySelector("input[name=setup_intent]");
  var attemptField = form.querySelector("input[name=attempt]");
  var card = stripe.elements().create("card");
  card.mount("#card-element");

  function choice() {
    var checked = form.querySelector("input[name=card]:checked");
    return checked ? checked.value : "new";
  }
  function showCardFields() { newCard.hidden = choice() !== "new"; }
  form.querySelectorAll("input[name=card]").forEach(function (r) { r.addEventListener("change", showCardFields); });
  showCardFields();

  function fail(message) {
    errors.textContent = message || "The card could not be set up. Check it and try again.";
    button.disabled = false;
  }

  form.addEventListener("submit", function (event) {
    errors.textContent = "";
    button.disabled = true;
    if (choice() !== "new" || setupField.value) { return; }  // the card on file, or a card already set up
    event.preventDefault();
    var body = new URLSearchParams();
    body.append("attempt", attemptField.value);
    fetch(form.dataset.setupUrl, {
      method: "POST",
      headers: {"X-CSRFToken": form.querySelector("input[name=csrfmiddlewaretoken]").value},
      body: body,
      credentials: "same-origin"
    }).then(function (response) {
      return response.json();
    }).then(function (data) {
      if (data.error) { throw {message: data.error}; }
      return stripe.confirmCardSetup(data.client_secret, {payment_method: {card: card}});
    }).then(function (result) {
      if (result.error) { throw result.error; }
      setupField.value = result.setupIntent.id;
      form.submit();
    }).catch(function (err) { fail(err && err.message); });
  });

  if (form.dataset.clientSecret) {
    button.disabled = true;
    stripe.confirmCardPayment(form.dataset.clientSecret).then(function () {
      document.getElementById("finish-payment").submit();
    });
  }
})();
