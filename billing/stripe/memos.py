"""The words staff read on the ledger for money that moved through Stripe.

A memo says what happened ("Card payment, Visa •••• 4242", "Refund of card payment of 3/2/2026"); the
Stripe id stays in the entry's ``external_ref`` (and the mirror rows), where reconciliation and a
manager's detail view find it, never in the text a front desk reads.
"""

from __future__ import annotations

import re
from datetime import date

from . import types as t


def card_words(brand: str, last4: str) -> str:
    """ "Visa •••• 4242", or "" when we don't know the card."""
    if not last4:
        return ""
    return f"{(brand or 'card').replace('_', ' ').title()} •••• {last4}"


def day_words(day: date) -> str:
    """3/2/2026: the short US date the console shows."""
    return f"{day.month}/{day.day}/{day.year}"


def desk_payment_memo(*, brand: str, last4: str) -> str:
    card = card_words(brand, last4)
    return f"Card payment at the desk, {card}" if card else "Card payment at the desk"


def card_payment_memo(*, brand: str, last4: str) -> str:
    """A card payment made outside the desk (Stripe's dashboard, a payment link)."""
    card = card_words(brand, last4)
    return f"Card payment, {card}" if card else "Card payment"


def invoice_payment_memo(invoice: t.Invoice) -> str:
    """A paid invoice (a membership renewal, a plan installment): what it was for, from its first line."""
    description = next((line.description for line in invoice.lines if line.description), "")
    return f"Automatic card payment: {description}"[:500] if description else "Automatic card payment (invoice)"


def refund_memo(*, paid_on: date | None, reason: str = "") -> str:
    what = f"Refund of card payment of {day_words(paid_on)}" if paid_on else "Refund of card payment"
    return (f"{what}: {reason}" if reason else what)[:500]


def refund_failed_reason(*, refunded_on: date | None, status: str) -> str:
    when = f" of {day_words(refunded_on)}" if refunded_on else ""
    word = "was canceled" if status == "canceled" else "failed"
    return f"The card refund{when} {word} at Stripe: the money stayed with the practice"


# Memos written before the words above (the ledger is append-only, so those rows keep them): how a page
# can show them in the same words. The Stripe id is still in the entry's external_ref.
_OLD = [
    (re.compile(r"^Stripe invoice \S+$"), lambda m: "Automatic card payment (invoice)"),
    (re.compile(r"^Stripe payment \S+$"), lambda m: "Card payment"),
    (
        re.compile(r"^Card payment at the desk \((\w+) ····(\d{4})\)$"),
        lambda m: desk_payment_memo(brand=m[1], last4=m[2]),
    ),
    (re.compile(r"^Card payment at the desk \(card\)$"), lambda m: "Card payment at the desk"),
    (re.compile(r"^Refund of (?:in|pi|ch)_\w+(: .*)?$", re.S), lambda m: f"Refund of card payment{m[1] or ''}"),
    (
        re.compile(r"^Stripe reports refund re_\w+ (failed|canceled)$"),
        lambda m: refund_failed_reason(refunded_on=None, status=m[1]),
    ),
]


def memo_for_display(memo: str) -> str:
    """A ledger memo as staff should read it: new memos unchanged, old ones that named a Stripe id in words."""
    for pattern, words in _OLD:
        match = pattern.match(memo or "")
        if match:
            return words(match)
    return memo
