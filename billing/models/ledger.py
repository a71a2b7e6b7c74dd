from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from billing.db.corrections import one_correction_path_constraint

from .base import AppendOnlyModel
from .patients import Patient
from .practice import Location


class EntryKind(models.TextChoices):
    # Sign convention: a positive amount raises what the guarantor owes, a negative one lowers it.
    CHARGE = "charge", "Charge"  # > 0
    PAYMENT = "payment", "Payment"  # < 0
    CREDIT = "credit", "Credit"  # < 0: courtesy credit, write-off
    ADJUSTMENT = "adjustment", "Adjustment"  # either sign
    REFUND = "refund", "Refund"  # > 0: money given back, points at the payment it refunds
    LENDER_PAYOUT = "lender_payout", "Lender payout"  # < 0: a lender paid the practice for the patient
    REVERSAL = "reversal", "Reversal"  # minus the entry it reverses


# The sign each kind must carry; kinds not listed may carry either sign (never zero).
KIND_SIGN = {
    EntryKind.CHARGE: 1,
    EntryKind.PAYMENT: -1,
    EntryKind.CREDIT: -1,
    EntryKind.REFUND: 1,
    EntryKind.LENDER_PAYOUT: -1,
}


class EntrySource(models.TextChoices):
    MANUAL = "manual", "Manual (staff)"
    STRIPE = "stripe", "Stripe"
    LENDER = "lender", "Lender"
    IMPORT = "import", "Import"
    SYSTEM = "system", "Chairside"


class LedgerEntry(AppendOnlyModel):
    """One line of a patient's account. Never edited, never deleted: see billing/models/base.py.

    Corrections: an entry is corrected by ONE reversal or by refunds (of a payment), never both, and money
    that moved through Stripe only by a Stripe refund. The database enforces both (billing/db/corrections.py:
    a BEFORE INSERT trigger on PostgreSQL and SQLite, and the exclusion constraint below on PostgreSQL).
    """

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="ledger_entries")
    guarantor = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="guaranteed_entries")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    kind = models.CharField(max_length=16, choices=EntryKind.choices)
    amount_cents = models.BigIntegerField(help_text="Signed integer cents; positive raises the balance owed.")
    effective_date = models.DateField()
    posted_at = models.DateTimeField(default=timezone.now, db_index=True)
    code = models.CharField(max_length=32, blank=True, help_text="Plan code or CDT procedure code.")
    source = models.CharField(max_length=16, choices=EntrySource.choices)
    external_ref = models.CharField(
        max_length=255, null=True, blank=True, help_text="The outside system's id; unique per source."
    )
    memo = models.CharField(max_length=500, blank=True)
    reverses = models.OneToOneField("self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_by")
    related_entry = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="related_entries",
        help_text="For a refund: the payment it gives back.",
    )
    posted_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    posted_by_system = models.CharField(max_length=64, blank=True)

    class Meta:
        verbose_name_plural = "ledger entries"
        ordering = ["effective_date", "posted_at", "id"]
        indexes = [
            models.Index(fields=["patient", "effective_date", "posted_at", "id"], name="ledger_patient_order"),
            models.Index(fields=["guarantor", "effective_date"], name="ledger_guarantor_date"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_ref"],
                condition=Q(external_ref__isnull=False),
                name="ledger_unique_external_ref_per_source",
            ),
            models.CheckConstraint(condition=~Q(amount_cents=0), name="ledger_amount_not_zero"),
            models.CheckConstraint(
                condition=(Q(kind=EntryKind.REVERSAL) & Q(reverses__isnull=False))
                | (~Q(kind=EntryKind.REVERSAL) & Q(reverses__isnull=True)),
                name="ledger_reversal_points_at_entry",
            ),
            models.CheckConstraint(
                condition=Q(posted_by_user__isnull=False) | ~Q(posted_by_system=""),
                name="ledger_posted_by_someone",
            ),
            *[
                models.CheckConstraint(
                    condition=~Q(kind=kind) | Q(**{"amount_cents__gt" if sign > 0 else "amount_cents__lt": 0}),
                    name=f"ledger_{kind}_sign",
                )
                for kind, sign in KIND_SIGN.items()
            ],
            one_correction_path_constraint(),
        ]

    def __str__(self) -> str:
        from billing.money import format_cents

        return f"{self.get_kind_display()} {format_cents(self.amount_cents)} on {self.effective_date} (#{self.pk})"

    @property
    def reverse_refusal(self) -> str:
        """Why staff can't reverse this entry ("" when they can). Reads ``reversed_by`` and whether it was
        refunded (the ``has_refunds`` annotation of ``patient_ledger``, else one query); the service
        re-checks under a lock."""
        if self.kind == EntryKind.REVERSAL:
            return "A reversal can't be reversed; post a new entry instead."
        if self.kind == EntryKind.REFUND:
            if self.source == EntrySource.STRIPE:
                return "A card refund is final; if Stripe reports it failed, Chairside reverses it by itself."
            return "A refund can't be reversed; post a charge or an adjustment instead."
        if self.source == EntrySource.STRIPE:
            return "This money moved through Stripe. Refund it from Card payments."
        reversal = getattr(self, "reversed_by", None) if self.pk else None
        if reversal is not None:
            return f"This entry was already reversed by entry #{reversal.pk}."
        has_refunds = getattr(self, "has_refunds", None)
        if has_refunds is None and self.pk:
            has_refunds = LedgerEntry.objects.filter(related_entry=self, kind=EntryKind.REFUND).exists()
        if has_refunds:
            return "This payment was refunded; it can't also be reversed."
        return ""

    @property
    def posted_by_label(self) -> str:
        return self.posted_by_user.get_username() if self.posted_by_user_id else self.posted_by_system
