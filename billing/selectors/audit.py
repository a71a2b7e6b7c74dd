from datetime import date

from django.db.models import Q, QuerySet

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
    qs = AuditEvent.objects.select_related("actor_user", "patient", "target_type")
    if patient_id:
        qs = qs.filter(patient_id=patient_id)
    if verb:
        qs = qs.filter(verb__startswith=verb)
    if actor:
        qs = qs.filter(actor_label__icontains=actor)
    if since:
        qs = qs.filter(occurred_at__date__gte=since)
    if until:
        qs = qs.filter(occurred_at__date__lte=until)
    if q:
        qs = qs.filter(Q(target_repr__icontains=q) | Q(reason__icontains=q))
    return qs.order_by("-occurred_at", "-id")


def audit_verbs() -> list[str]:
    return list(AuditEvent.objects.values_list("verb", flat=True).distinct().order_by("verb"))
