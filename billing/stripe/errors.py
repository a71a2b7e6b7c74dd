"""Errors the Stripe connection raises, in words staff can act on. The gateway turns every SDK error
into one of these; views show ``user_message`` and never a 500 page."""

from __future__ import annotations

# Stripe's decline codes, said plainly for the front desk (https://docs.stripe.com/declines/codes).
DECLINE_MESSAGES = {
    "insufficient_funds": "The card was declined for insufficient funds. Ask for another card.",
    "expired_card": "The card has expired. Ask for another card.",
    "incorrect_cvc": "The security code (CVC) is wrong. Check it and try again.",
    "invalid_cvc": "The security code (CVC) is wrong. Check it and try again.",
    "incorrect_number": "The card number is wrong. Check it and try again.",
    "invalid_number": "The card number is wrong. Check it and try again.",
    "invalid_expiry_month": "The expiry month is wrong. Check it and try again.",
    "invalid_expiry_year": "The expiry year is wrong. Check it and try again.",
    "lost_card": "The bank declined the card (reported lost). Ask for another way to pay.",
    "stolen_card": "The bank declined the card (reported stolen). Ask for another way to pay.",
    "fraudulent": "The bank declined the card. Ask for another way to pay.",
    "do_not_honor": "The bank declined without a reason. Ask the patient to call their bank or use another card.",
    "generic_decline": "The bank declined without a reason. Ask the patient to call their bank or use another card.",
    "card_declined": "The card was declined. Ask the patient to call their bank or use another card.",
    "processing_error": "The card could not be processed just now. Try again in a moment.",
    "authentication_required": "The bank wants the cardholder to confirm this payment; run it with the card present.",
    "card_velocity_exceeded": "The card has hit its spending limit. Ask for another card.",
    "withdrawal_count_limit_exceeded": "The card has hit its spending limit. Ask for another card.",
    "currency_not_supported": "This card can't be charged in US dollars. Ask for another card.",
}


def decline_message(code: str = "", decline_code: str = "", fallback: str = "") -> str:
    return (
        DECLINE_MESSAGES.get(decline_code)
        or DECLINE_MESSAGES.get(code)
        or fallback
        or DECLINE_MESSAGES["card_declined"]
    )


class StripeError(Exception):
    """Something went wrong talking to Stripe. ``user_message`` is safe to show staff."""

    user_message = "Stripe refused the request."
    retryable = False

    def __init__(self, user_message: str | None = None, *, code: str = "", detail: str = ""):
        self.user_message = user_message or self.user_message
        self.code = code
        self.detail = detail
        super().__init__(self.user_message if not detail else f"{self.user_message} ({detail})")


class StripeNotConfigured(StripeError):
    user_message = "Card payments are not set up: ask a manager to add the Stripe keys."


class StripeUnavailable(StripeError):
    user_message = "Stripe could not be reached. Nothing was charged or saved; try again in a minute."
    retryable = True


class CardDeclined(StripeError):
    """The bank said no. Nothing was charged."""

    def __init__(self, *, code: str = "", decline_code: str = "", message: str = "", payment_intent_id: str = ""):
        self.decline_code = decline_code
        self.payment_intent_id = payment_intent_id
        super().__init__(decline_message(code, decline_code, ""), code=code, detail=decline_code or message)


class StripeRequestRefused(StripeError):
    """Stripe answered but refused (a missing object, a bad parameter, the wrong key)."""


class StripeObjectMissing(StripeRequestRefused):
    user_message = "Stripe has no such object."


# Signals a handler raises to tell the inbox what to do with an event it can't act on yet.
class WaitForObject(Exception):  # noqa: N818 (a signal, not an error)
    """This event needs another Stripe object first (a refund whose payment we haven't seen)."""

    def __init__(self, object_id: str, reason: str):
        self.object_id = object_id
        self.reason = reason
        super().__init__(reason)


class UnknownCustomer(Exception):  # noqa: N818
    """The event is about a Stripe customer that is not one of our guarantors."""

    def __init__(self, customer_id: str):
        self.customer_id = customer_id
        super().__init__(f"Stripe customer {customer_id or '(none)'} is not linked to any guarantor")


class InvalidWebhook(Exception):  # noqa: N818
    """A delivery we refuse: no signature, a forged or stale one, or a body that isn't an event."""
