from datetime import date

from django.db.models import Q, QuerySet

from billing.audit_words import actor_systems_matching, verbs_matching
from billing.models import AuditEvent


def audit_events(
    *,
    patient_id: int | None = None,
    verb: str = "",
    actor: str = "",
    since: date | None = None,
    until: date | None = None,
    q: str = "",
) -> QuerySet:
    """Newest first. ``verb`` and ``actor`` match the stored names or the words the page shows
    ("ledger.posted" or "posted a ledger"; "frontdesk" or "patient")."""
    qs = AuditEvent.objects.select_related("actor_user", "patient", "target_type", "location")
    if patient_id:
        qs = qs.filter(patient_id=patient_id)
    if verb:
        qs = qs.filter(Q(verb__startswith=verb) | Q(verb__in=verbs_matching(verb)))
    if actor:
        qs = qs.filter(Q(actor_label__icontains=actor) | Q(actor_system__in=actor_systems_matching(actor)))
    if since:
        qs = qs.filter(occurred_at__date__gte=since)
    if until:
        qs = qs.filter(occurred_at__date__lte=until)
    if q:
        qs = qs.filter(Q(target_repr__icontains=q) | Q(reason__icontains=q))
    return qs.order_by("-occurred_at", "-id")


def audit_verbs() -> list[str]:
    return list(AuditEvent.objects.values_list("verb", flat=True).distinct().order_by("verb"))
