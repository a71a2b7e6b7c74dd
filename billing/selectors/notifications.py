from django.db.models import QuerySet

from billing.models import Message


def messages_for_patient(*, patient_id: int) -> QuerySet:
    return Message.objects.filter(patient_id=patient_id).order_by("-created_at", "-id")
