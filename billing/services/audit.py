from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.db import models

from billing.actors import Actor
from billing.models import AuditEvent, Location, Patient


def snapshot(instance: models.Model, fields: list[str] | None = None) -> dict:
    """A JSON-safe dict of an instance's concrete field values (foreign keys as ids), for before/after."""
    out: dict = {}
    for f in instance._meta.concrete_fields:
        if fields is not None and f.name not in fields:
            continue
        value = getattr(instance, f.attname)
        out[f.name] = _jsonable(value)
    return out


def _jsonable(value):
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def audit_record(
    *,
    actor: Actor,
    verb: str,
    target: models.Model | None = None,
    before: dict | None = None,
    after: dict | None = None,
    reason: str = "",
    patient: Patient | None = None,
    location: Location | None = None,
) -> AuditEvent:
    """Write one audit event. Call it inside the same transaction as the change it describes, so the
    change and its record commit or vanish together."""
    if patient is None and isinstance(target, Patient):
        patient = target
    return AuditEvent.objects.create(
        actor_user=actor.user,
        actor_system=actor.system,
        actor_label=actor.label,
        verb=verb,
        target_type=ContentType.objects.get_for_model(target) if target is not None else None,
        target_id=str(target.pk) if target is not None else "",
        target_repr=str(target)[:200] if target is not None else "",
        patient=patient,
        location=location,
        before=_jsonable(before) if before is not None else None,
        after=_jsonable(after) if after is not None else None,
        reason=reason,
    )
