import re
from dataclasses import dataclass, field
from datetime import date

from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from billing.models import Household, Patient

# Dates as staff type them and as the app prints them: 1961-04-30, 04/30/1961, 4/30/61, 04-30-1961.
_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_US_DATE = re.compile(r"^(\d{1,2})[/-](\d{1,2})[/-](\d{2}|\d{4})$")
# A piece of a phone number as printed or typed: "(217)", "555-1001", "+1", "555.1001".
_PHONE_PIECE = re.compile(r"^\+?[\d().-]*\d[\d().-]*$")
# Punctuation around a name word as the app prints names: "Tanaka, Camila", “Cam”.
_NAME_PUNCTUATION = ',;:"“”‘’()[]'


@dataclass
class PatientQuery:
    """A search box's text read into what it names; every part narrows the result."""

    dates: list[date] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    phones: list[tuple[str, str]] = field(default_factory=list)  # (digits, the text as typed)
    words: list[str] = field(default_factory=list)
    impossible: bool = False  # e.g. "2/30/1961": looks like a date, is none


def _two_digit_year(yy: int, month: int, day: int, today: date) -> date:
    """The most recent date with these last two year digits that isn't after today (4/30/61 → 1961)."""
    century = today.year - today.year % 100
    candidate = date(century + yy, month, day)
    return candidate if candidate <= today else date(century - 100 + yy, month, day)


def parse_date(text: str, *, today: date | None = None) -> date | None:
    """Read 1961-04-30, 04/30/1961, 4/30/61 or 04-30-1961; ``None`` when the text isn't date-shaped.

    Raises ``ValueError`` when the text is date-shaped but names no date (2/30/1961)."""
    if m := _ISO_DATE.match(text):
        year, month, day = (int(g) for g in m.groups())
        return date(year, month, day)
    if m := _US_DATE.match(text):
        month, day, year_text = int(m[1]), int(m[2]), m[3]
        if len(year_text) == 2:
            return _two_digit_year(int(year_text), month, day, today or timezone.localdate())
        return date(int(year_text), month, day)
    return None


def parse_patient_query(text: str, *, today: date | None = None) -> PatientQuery:
    query = PatientQuery()
    phone_run: list[str] = []

    def end_phone_run() -> None:
        if not phone_run:
            return
        digits = re.sub(r"\D", "", "".join(phone_run))
        if len(digits) >= 4:
            query.phones.append((digits, "".join(phone_run)))
        else:  # "555" alone: too short for a phone, maybe the start of an outside id
            query.words.extend(phone_run)
        phone_run.clear()

    for token in re.split(r"[\s,;]+", text or ""):
        if not token:
            continue
        try:
            as_date = parse_date(token, today=today)
        except ValueError:
            end_phone_run()
            query.impossible = True
            continue
        if as_date:
            end_phone_run()
            query.dates.append(as_date)
        elif _PHONE_PIECE.match(token):
            phone_run.append(token)
        else:
            end_phone_run()
            if "@" in token:
                query.emails.append(token)
            elif word := token.strip(_NAME_PUNCTUATION).rstrip("."):
                query.words.append(word)
    end_phone_run()
    return query


def _name_word(word: str) -> Q:
    """A word starts the first, last or preferred name, or any later part of one ("Cruz" in "De la Cruz")."""
    q = Q(external_id__iexact=word)
    for name in ("first_name", "last_name", "preferred_name"):
        q |= Q(**{f"{name}__istartswith": word})
        q |= Q(**{f"{name}__icontains": f" {word}"}) | Q(**{f"{name}__icontains": f"-{word}"})
    return q


def patient_search(*, q: str = "", date_of_birth: date | None = None, include_inactive: bool = False) -> QuerySet:
    """Find patients by any mix of name words (``Camila Tanaka`` or ``Tanaka, Camila``), date of birth
    (``1961-04-30``, ``04/30/1961``, ``4/30/61``: a two-digit year is the most recent one not in the
    future), phone as printed or typed (``(217) 555-1001``, ``555 1001``, ``+1 217 555 1001``) and email,
    each part narrowing the result. Rows carry ``balance_cents`` (their own ledger sum)."""
    qs = Patient.objects.select_related("household", "home_location")
    if not include_inactive:
        qs = qs.filter(is_active=True)
    if date_of_birth:
        qs = qs.filter(date_of_birth=date_of_birth)
    query = parse_patient_query(q)
    if query.impossible:
        qs = qs.none()
    for as_date in query.dates:
        qs = qs.filter(date_of_birth=as_date)
    for email in query.emails:
        qs = qs.filter(email__icontains=email)
    for digits, typed in query.phones:
        qs = qs.filter(Q(phone__contains=digits) | Q(external_id__iexact=typed))
    for word in query.words:
        qs = qs.filter(_name_word(word))
    return qs.annotate(balance_cents=Coalesce(Sum("ledger_entries__amount_cents"), 0)).order_by(
        "last_name", "first_name", "id"
    )


def patient_get(*, pk: int) -> Patient:
    return Patient.objects.select_related("household__guarantor", "home_location").get(pk=pk)


def household_members(*, household: Household) -> QuerySet:
    return household.members.select_related("home_location").order_by("date_of_birth", "id")


def households_with_members() -> QuerySet:
    return Household.objects.select_related("guarantor").prefetch_related("members").order_by("name", "id")
