from .audit import AuditEvent
from .base import AppendOnlyError, AppendOnlyModel, AppendOnlyQuerySet
from .ledger import KIND_SIGN, EntryKind, EntrySource, LedgerEntry
from .notifications import Channel, Message, MessageStatus
from .patients import ContactChannel, Household, Patient
from .practice import Location, Practice, validate_time_zone
from .staff_tasks import Role, StaffTask, TaskPriority, TaskStatus

__all__ = [
    "AppendOnlyError",
    "AppendOnlyModel",
    "AppendOnlyQuerySet",
    "AuditEvent",
    "Channel",
    "ContactChannel",
    "EntryKind",
    "EntrySource",
    "Household",
    "KIND_SIGN",
    "LedgerEntry",
    "Location",
    "Message",
    "MessageStatus",
    "Patient",
    "Practice",
    "Role",
    "StaffTask",
    "TaskPriority",
    "TaskStatus",
    "validate_time_zone",
]
