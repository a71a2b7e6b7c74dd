import re
from datetime import date, datetime

from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from billing.models import Household, Patient

_DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%m-%d-%Y", "%m/%d/%y")


def _as_date(text: str) -> date | None:
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def patient_search(*, q: str = "", date_of_birth: date | None = None, include_inactive: bool = False) -> QuerySet:
    """Find patients by any mix of name words, date of birth (2001-04-30 or 04/30/2001), phone digits
    and email, each word narrowing the result. Rows carry ``balance_cents`` (their own ledger sum)."""
    qs = Patient.objects.select_related("household", "home_location")
    if not include_inactive:
        qs = qs.filter(is_active=True)
    if date_of_birth:
        qs = qs.filter(date_of_birth=date_of_birth)
    for word in (q or "").split():
        as_date = _as_date(word)
        digits = re.sub(r"\D", "", word)
        if as_date:
            qs = qs.filter(date_of_birth=as_date)
        elif "@" in word:
            qs = qs.filter(email__icontains=word)
        elif len(digits) >= 4 and len(digits) >= len(word) - 4:
            qs = qs.filter(phone__contains=digits)
        else:
            qs = qs.filter(
                Q(first_name__istartswith=word)
                | Q(last_name__istartswith=word)
                | Q(preferred_name__istartswith=word)
                | Q(external_id__iexact=word)
            )
    return qs.annotate(balance_cents=Coalesce(Sum("ledger_entries__amount_cents"), 0)).order_by(
        "last_name", "first_name", "id"
    )


def patient_get(*, pk: int) -> Patient:
    return Patient.objects.select_related("household__guarantor", "home_location").get(pk=pk)


def household_members(*, household: Household) -> QuerySet:
    return household.members.select_related("home_location").order_by("date_of_birth", "id")


def households_with_members() -> QuerySet:
    return Household.objects.select_related("guarantor").prefetch_related("members").order_by("name", "id")
