"""Stripe customers: one per guarantor, created on demand with our ids in its metadata."""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction

from billing.actors import Actor
from billing.models import Patient, StripeCustomer
from billing.services.audit import audit_record

from . import gateway
from . import types as t
from .errors import StripeObjectMissing, UnknownCustomer

log = logging.getLogger(__name__)


def customer_metadata(guarantor: Patient) -> dict:
    return {"chairside_guarantor_id": str(guarantor.pk), "chairside_household_id": str(guarantor.household_id)}


def customer_ensure(*, guarantor: Patient, by: Actor, verify: bool = False) -> StripeCustomer:
    """The guarantor's Stripe customer, created at Stripe (and mapped here) on first use.

    Idempotent: the create carries a key built from the guarantor's id, and the mapping is unique per
    guarantor, so two requests racing still end with one mapping. With ``verify`` the customer is looked
    up at Stripe first and made again if Stripe no longer has it (deleted in the dashboard, or a
    localstripe restart in the demo). Raises StripeUnavailable with nothing written if Stripe is down.
    """
    existing = StripeCustomer.objects.select_related("guarantor").filter(guarantor=guarantor).first()
    if existing is not None and not verify:
        return existing
    if existing is not None:
        try:
            remote = gateway.customer_retrieve(existing.stripe_id)
        except StripeObjectMissing:
            remote = None
        if remote is not None and not remote.deleted:
            return existing
        return _customer_replace(existing=existing, by=by)
    remote = gateway.customer_create(
        email=guarantor.email,
        name=guarantor.full_name,
        metadata=customer_metadata(guarantor),
        idempotency_key=f"chairside-customer-{guarantor.pk}",
    )
    try:
        with transaction.atomic():
            row = StripeCustomer.objects.create(
                guarantor=guarantor, household_id=guarantor.household_id, stripe_id=remote.id
            )
            audit_record(
                actor=by,
                verb="stripe.customer.created",
                target=row,
                patient=guarantor,
                after={"stripe_id": remote.id},
            )
    except IntegrityError:  # a concurrent request mapped this guarantor first
        return StripeCustomer.objects.get(guarantor=guarantor)
    return row


def _customer_replace(*, existing: StripeCustomer, by: Actor) -> StripeCustomer:
    guarantor = existing.guarantor
    old_id = existing.stripe_id
    remote = gateway.customer_create(
        email=guarantor.email,
        name=guarantor.full_name,
        metadata=customer_metadata(guarantor),
        idempotency_key=f"chairside-customer-{guarantor.pk}-after-{old_id}",
    )
    with transaction.atomic():
        row = StripeCustomer.objects.select_for_update().get(pk=existing.pk)
        if row.stripe_id != old_id:  # someone replaced it meanwhile
            return row
        row.stripe_id = remote.id
        row.default_payment_method = row.card_brand = row.card_last4 = ""
        row.card_exp_month = row.card_exp_year = None
        row.save()
        audit_record(
            actor=by,
            verb="stripe.customer.replaced",
            target=row,
            patient=guarantor,
            before={"stripe_id": old_id},
            after={"stripe_id": remote.id},
            reason="Stripe no longer had the customer",
        )
    log.warning("stripe customer %s missing at Stripe; replaced by %s", old_id, remote.id)
    return row


@transaction.atomic
def customer_save_card(*, customer: StripeCustomer, card: t.Card, by: Actor) -> StripeCustomer:
    """Remember which card is on file (its brand and last four digits only)."""
    row = StripeCustomer.objects.select_for_update().get(pk=customer.pk)
    before = {"card": f"{row.card_brand} {row.card_last4}".strip()}
    row.default_payment_method = card.payment_method_id
    row.card_brand, row.card_last4 = card.brand[:32], card.last4[:4]
    row.card_exp_month, row.card_exp_year = card.exp_month, card.exp_year
    row.save()
    audit_record(
        actor=by,
        verb="stripe.card_on_file.saved",
        target=row,
        patient=row.guarantor,
        before=before,
        after={"card": f"{row.card_brand} {row.card_last4}"},
    )
    return row


def customer_by_stripe_id(stripe_id: str) -> StripeCustomer:
    """The mapping for a Stripe customer id, or UnknownCustomer (the event is kept for a manager)."""
    row = (
        StripeCustomer.objects.select_related("guarantor__household__guarantor", "guarantor__home_location")
        .filter(stripe_id=stripe_id)
        .first()
        if stripe_id
        else None
    )
    if row is None:
        raise UnknownCustomer(stripe_id)
    return row
