"""Who is booking? Match an online request to a chart, or decide a new chart is safe, or ask a person.

The rule (issue 4): normalised name + date of birth + (email or phone). Exactly one chart matches on all
of them → that chart. Nothing close → a new chart is safe. Anything in between (two charts match, or a
chart has the same name and birth date but other contact details, or the same contact details and birth
date under a changed name) → ambiguous: the hold is kept and staff decide, so a duplicate chart is never
made silently.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import date

from billing.models import Patient


def normalize_name(value: str) -> str:
    """ "  José-Luis O'Neil " → "joseluisoneil": accents, case, spaces and punctuation don't decide identity."""
    decomposed = unicodedata.normalize("NFKD", value or "")
    return "".join(ch for ch in decomposed if ch.isalnum() and not unicodedata.combining(ch)).casefold()


@dataclass(frozen=True)
class Match:
    kind: str  # "linked", "new" or "ambiguous"
    patient: Patient | None = None
    candidate_ids: list[int] = field(default_factory=list)


def patient_match(*, first_name: str, last_name: str, date_of_birth: date, email: str, phone: str) -> Match:
    """One query (the charts born that day), then the comparison in Python. ``email`` and ``phone`` must
    already be normalised (billing.validators)."""
    first, last = normalize_name(first_name), normalize_name(last_name)
    email = (email or "").casefold()
    full: list[Patient] = []
    near: list[Patient] = []
    for p in Patient.objects.filter(date_of_birth=date_of_birth).only(
        "id", "first_name", "last_name", "preferred_name", "email", "phone", "preferred_channel", "is_active"
    ):
        first_ok = first in {normalize_name(p.first_name), normalize_name(p.preferred_name)} - {""}
        last_ok = last == normalize_name(p.last_name)
        contact_ok = bool(email and p.email and p.email.casefold() == email) or bool(phone and p.phone == phone)
        if first_ok and last_ok and contact_ok:
            full.append(p)
        elif (first_ok and last_ok) or (contact_ok and (first_ok or last_ok)):
            near.append(p)
    if len(full) == 1 and full[0].is_active:
        return Match(kind="linked", patient=full[0])
    if full or near:
        return Match(kind="ambiguous", candidate_ids=sorted(p.pk for p in [*full, *near]))
    return Match(kind="new")
