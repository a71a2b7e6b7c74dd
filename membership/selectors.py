"""What other apps may ask about memberships. Scheduling (badges on the calendar, recall exclusions) and
later apps read membership state only through these functions, never through membership's models.

Membership has no models yet (its own issue adds plans and memberships). Until then every patient
honestly has no membership status: the functions return nothing, and callers treat "no status" as
"not a member". When memberships arrive, only the bodies below change; callers keep their shape.
"""

from __future__ import annotations

from collections.abc import Iterable

ACTIVE = "active"
PAST_DUE = "past_due"
ON_HOLD = "on_hold"
LAPSED = "lapsed"

STATUS_LABELS = {ACTIVE: "member", PAST_DUE: "past due", ON_HOLD: "on hold", LAPSED: "lapsed"}


def membership_status_by_patient(patient_ids: Iterable[int]) -> dict[int, str]:
    """Each given patient's membership status (one of the constants above); patients without a
    membership are absent from the result. One query at most, however many ids are asked about."""
    ids = {int(pk) for pk in patient_ids}
    if not ids:
        return {}
    return {}  # no memberships exist yet: see the module docstring
