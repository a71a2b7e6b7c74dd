"""Patients and households: creating charts, changing demographics, who pays for whom."""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction

from billing.actors import Actor
from billing.models import ContactChannel, Household, Location, Patient
from billing.services.audit import audit_record, snapshot
from billing.validators import normalize_email, normalize_phone, validate_birth_date, validate_plain_text

EDITABLE_FIELDS = (
    "first_name",
    "last_name",
    "preferred_name",
    "date_of_birth",
    "email",
    "phone",
    "preferred_channel",
    "home_location",
    "external_id",
    "is_active",
)


def _clean(data: dict, *, instance: Patient | None = None) -> dict:
    """Normalise and check patient fields; raise one ValidationError naming every bad field."""
    errors: dict[str, str] = {}
    out = dict(data)
    for name in ("first_name", "last_name", "preferred_name", "external_id"):
        if name in out:
            out[name] = (out[name] or "").strip()
            try:
                validate_plain_text(out[name], field=name)
            except ValidationError as exc:
                errors.update({k: v[0] for k, v in exc.message_dict.items()})
    for name in ("first_name", "last_name"):
        if name in out and name not in errors:
            if not out[name]:
                errors[name] = "This field is required."
            elif len(out[name]) > 100:
                errors[name] = "At most 100 characters."
    if len(out.get("preferred_name", "")) > 100:
        errors["preferred_name"] = "At most 100 characters."
    if len(out.get("external_id", "")) > 64:
        errors["external_id"] = "At most 64 characters."
    for name, fn in (("email", normalize_email), ("phone", normalize_phone)):
        if name in out:
            try:
                out[name] = fn(out[name])
            except ValidationError as exc:
                errors.update({k: v[0] for k, v in exc.message_dict.items()})
    if "date_of_birth" in out:
        try:
            validate_birth_date(out["date_of_birth"])
        except ValidationError as exc:
            errors.update({k: v[0] for k, v in exc.message_dict.items()})
    if out.get("external_id") and "external_id" not in errors:
        clash = Patient.objects.filter(external_id=out["external_id"]).exclude(external_id="")
        if instance is not None:
            clash = clash.exclude(pk=instance.pk)
        if out["external_id"] and clash.exists():
            errors["external_id"] = "Another patient already has this practice-system id."
    channel = out.get("preferred_channel", instance.preferred_channel if instance else ContactChannel.EMAIL)
    if channel not in ContactChannel.values:
        errors["preferred_channel"] = f"Choose one of: {', '.join(ContactChannel.values)}."
    email = out.get("email", instance.email if instance else "")
    phone = out.get("phone", instance.phone if instance else "")
    if "email" not in errors and "phone" not in errors:
        if channel == ContactChannel.SMS and not phone:
            errors["preferred_channel"] = "Add a mobile number to send this patient text messages."
        elif channel == ContactChannel.EMAIL and not email:
            errors["preferred_channel"] = "Add an email address, or choose another channel."
    if errors:
        raise ValidationError(errors)
    return out


@transaction.atomic
def household_create(*, name: str, by: Actor) -> Household:
    name = validate_plain_text((name or "").strip(), field="name")
    if not name:
        raise ValidationError({"name": "This field is required."})
    household = Household.objects.create(name=name[:150])
    audit_record(actor=by, verb="household.created", target=household, after=snapshot(household))
    return household


@transaction.atomic
def patient_create(
    *,
    first_name: str,
    last_name: str,
    date_of_birth: date,
    by: Actor,
    email: str = "",
    phone: str = "",
    preferred_channel: str = ContactChannel.EMAIL,
    preferred_name: str = "",
    home_location: Location | None = None,
    household: Household | None = None,
    external_id: str = "",
) -> Patient:
    """Create a patient chart. Without a household the patient gets their own and is its guarantor; a
    household without a guarantor takes its first member as guarantor."""
    data = _clean(
        {
            "first_name": first_name,
            "last_name": last_name,
            "preferred_name": preferred_name,
            "date_of_birth": date_of_birth,
            "email": email,
            "phone": phone,
            "preferred_channel": preferred_channel,
            "external_id": external_id,
        }
    )
    if household is None:
        household = Household.objects.create(name=f"{data['last_name']} household")
    else:
        household = Household.objects.select_for_update().get(pk=household.pk)
    patient = Patient.objects.create(household=household, home_location=home_location, **data)
    if household.guarantor_id is None:
        household.guarantor = patient
        household.save(update_fields=["guarantor"])
    audit_record(actor=by, verb="patient.created", target=patient, after=snapshot(patient))
    return patient


@transaction.atomic
def patient_update(*, patient: Patient, by: Actor, reason: str = "", **changes) -> Patient:
    """Change demographics (only the fields in EDITABLE_FIELDS, plus household). Moving the guarantor of
    a household that has other members out of it is refused until another member is made guarantor."""
    unknown = set(changes) - set(EDITABLE_FIELDS) - {"household"}
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "This field can't be changed here."))
    locked = Patient.objects.select_for_update().get(pk=patient.pk)
    before = snapshot(locked)
    household = changes.pop("household", None)
    data = _clean(changes, instance=locked)
    for name, value in data.items():
        setattr(locked, name, value)
    if household is not None and household.pk != locked.household_id:
        _move_household(locked, household)
    locked.save()
    after = snapshot(locked)
    if after != before:
        changed = {k for k in after if after[k] != before[k]} - {"updated_at"}
        audit_record(
            actor=by,
            verb="patient.updated",
            target=locked,
            before={k: before[k] for k in changed},
            after={k: after[k] for k in changed},
            reason=reason,
        )
    return locked


def _move_household(patient: Patient, new_household: Household) -> None:
    old = Household.objects.select_for_update().get(pk=patient.household_id)
    if old.guarantor_id == patient.pk:
        if old.members.exclude(pk=patient.pk).exists():
            raise ValidationError(
                {"household": "This patient pays for their household; make another member guarantor first."}
            )
        old.guarantor = None
        old.save(update_fields=["guarantor"])
    new = Household.objects.select_for_update().get(pk=new_household.pk)
    patient.household = new
    if new.guarantor_id is None:
        patient.save()
        new.guarantor = patient
        new.save(update_fields=["guarantor"])


@transaction.atomic
def household_update(
    *, household: Household, by: Actor, name: str | None = None, guarantor: Patient | None = None, reason: str = ""
) -> Household:
    """Rename a household and/or make another member its guarantor, as one change."""
    if guarantor is not None and guarantor.pk != household.guarantor_id:
        household = household_set_guarantor(household=household, guarantor=guarantor, by=by, reason=reason)
    if name is not None:
        name = validate_plain_text(name.strip(), field="name")
        if not name:
            raise ValidationError({"name": "This field is required."})
        locked = Household.objects.select_for_update().get(pk=household.pk)
        if name != locked.name:
            before = snapshot(locked, ["name"])
            locked.name = name[:150]
            locked.save(update_fields=["name"])
            audit_record(
                actor=by, verb="household.renamed", target=locked, before=before, after=snapshot(locked, ["name"])
            )
        household = locked
    return household


@transaction.atomic
def household_set_guarantor(*, household: Household, guarantor: Patient, by: Actor, reason: str = "") -> Household:
    """Make a member the one who pays. Future entries bill to them; past entries keep their guarantor."""
    locked = Household.objects.select_for_update().get(pk=household.pk)
    if guarantor.household_id != locked.pk:
        raise ValidationError({"guarantor": "The guarantor must be a member of this household."})
    before = snapshot(locked)
    locked.guarantor = guarantor
    locked.save(update_fields=["guarantor"])
    audit_record(
        actor=by,
        verb="household.guarantor_changed",
        target=locked,
        before=before,
        after=snapshot(locked),
        patient=guarantor,
        reason=reason,
    )
    return locked
