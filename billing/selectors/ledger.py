from datetime import date

from django.db.models import Count, Exists, F, OuterRef, QuerySet, Sum, Window
from django.db.models.functions import Coalesce

from billing.models import EntryKind, LedgerEntry, Patient

ORDER = ("effective_date", "posted_at", "id")


def patient_balance(*, patient: Patient) -> int:
    """What this patient's own entries add up to, in cents (positive: owed to the practice)."""
    return LedgerEntry.objects.filter(patient=patient).aggregate(s=Coalesce(Sum("amount_cents"), 0))["s"]


def guarantor_balance(*, guarantor: Patient) -> int:
    """What the guarantor owes for everyone they pay for, in cents."""
    return LedgerEntry.objects.filter(guarantor=guarantor).aggregate(s=Coalesce(Sum("amount_cents"), 0))["s"]


def patient_ledger(*, patient: Patient, newest_first: bool = True) -> QuerySet:
    """The patient's entries with ``running_balance`` (the balance right after each entry, in posting
    order) and ``has_refunds`` (what ``LedgerEntry.reverse_refusal`` reads), computed by the database in
    one query whatever the slice shown."""
    qs = (
        LedgerEntry.objects.filter(patient=patient)
        .select_related("posted_by_user", "reverses", "reversed_by", "related_entry")
        .annotate(
            running_balance=Window(Sum("amount_cents"), order_by=[F(f).asc() for f in ORDER]),
            has_refunds=Exists(LedgerEntry.objects.filter(related_entry=OuterRef("pk"), kind=EntryKind.REFUND)),
        )
    )
    return qs.order_by(*[f"-{f}" if newest_first else f for f in ORDER])


def ledger_effective_on(*, day: date) -> QuerySet:
    """The day's activity as the front desk sees it: entries dated that day, newest posting first."""
    return (
        LedgerEntry.objects.filter(effective_date=day)
        .select_related("patient", "posted_by_user")
        .order_by("-posted_at", "-id")
    )


def ledger_totals_for_day(*, day: date) -> list[dict]:
    return list(
        LedgerEntry.objects.filter(effective_date=day)
        .values("kind")
        .annotate(total=Sum("amount_cents"), n=Count("id"))
        .order_by("kind")
    )
