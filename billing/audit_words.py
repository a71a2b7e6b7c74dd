"""How the audit trail reads to a manager: plain words for each recorded verb and for who acted.

Events store machine names (``ledger.posted``, ``scheduling.manage-link``) so filters and code stay
stable; pages show words. The core names its own verbs here; a feature app registers its own from its
``AppConfig.ready()`` (the core never imports a feature app). A verb or component nobody named still
reads as words, from its name.
"""

from __future__ import annotations

_verbs: dict[str, str] = {
    "ledger.posted": "Posted a ledger entry",
    "ledger.reversed": "Reversed a ledger entry",
    "patient.created": "Added a patient",
    "patient.updated": "Changed a patient's details",
    "household.created": "Created a household",
    "household.renamed": "Renamed a household",
    "household.guarantor_changed": "Changed who pays for a household",
    "task.opened": "Opened a task",
    "task.resolved": "Resolved a task",
    "stripe.customer.created": "Created the Stripe customer",
    "stripe.customer.replaced": "Replaced the Stripe customer",
    "stripe.card_on_file.saved": "Saved a card on file",
    "stripe.desk_payment.declined": "Card payment declined",
    "stripe.payment_failed": "Card payment failed",
    "stripe.refund.issued": "Refunded a card payment",
    "stripe.dispute.opened": "Card payment disputed",
    "stripe.dispute.updated": "Card dispute updated",
    "stripe.event.replayed": "Replayed a Stripe event",
    "stripe.sync.queued": "Queued a Stripe sync",
    "stripe.reconcile.ran": "Compared Stripe with the ledger",
    "stripe.reconcile.fixed": "Fixed a Stripe/ledger difference",
}

# Components that act for a patient (a signed link, the public booking page): credit the patient.
_actors: dict[str, str] = {
    "stripe.webhook": "Stripe (webhook)",
    "stripe.sync": "Stripe (sync)",
    "stripe.reconcile": "Stripe (daily reconciliation)",
    "seed_demo": "demo data",
}


def register_audit_words(*, verbs: dict[str, str] | None = None, actors: dict[str, str] | None = None) -> None:
    """A feature app names its verbs (``{"appointment.booked": "Booked an appointment"}``) and its
    components (``{"scheduling.manage-link": "patient (manage link)"}``). Re-registering replaces."""
    _verbs.update(verbs or {})
    _actors.update(actors or {})


def verb_words(verb: str) -> str:
    """``ledger.posted`` → "Posted a ledger entry"; an unnamed ``a.b_c`` → "A: b c"."""
    if verb in _verbs:
        return _verbs[verb]
    noun, _, rest = verb.partition(".")
    words = f"{noun}: {rest}" if rest else noun
    return words.replace("_", " ").replace(".", " ").replace("-", " ").capitalize()


def actor_words(*, system: str, label: str) -> str:
    """Who acted, as a manager reads it: a staff user's username, or the named part of the system."""
    if not system:
        return label
    return _actors.get(system, label or system)


def actor_systems_matching(text: str) -> list[str]:
    """Components whose words contain ``text`` (so the audit filter "patient" finds manage-link actions)."""
    text = text.casefold()
    return [system for system, words in _actors.items() if text in words.casefold()]


def verbs_matching(text: str) -> list[str]:
    """Named verbs whose words contain ``text`` ("posted" finds ``ledger.posted``)."""
    text = text.casefold()
    return [verb for verb, words in _verbs.items() if text in words.casefold()]
