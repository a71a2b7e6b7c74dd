"""Append-only storage: rows that record history (ledger entries, audit events) are written once.

Every Python path that could rewrite a row refuses here; on PostgreSQL a trigger (see the billing
migrations) refuses UPDATE and DELETE even from raw SQL. Corrections are new rows that point back.
"""

from django.db import models


class AppendOnlyError(Exception):
    """Raised when code tries to change or remove a row of an append-only table."""


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError(f"{self.model.__name__} rows are append-only: post a correcting row instead")

    def delete(self):
        raise AppendOnlyError(f"{self.model.__name__} rows are append-only: post a correcting row instead")

    def bulk_update(self, objs, fields, batch_size=None):
        raise AppendOnlyError(f"{self.model.__name__} rows are append-only: post a correcting row instead")

    def update_or_create(self, defaults=None, create_defaults=None, **kwargs):
        raise AppendOnlyError(f"{self.model.__name__} rows are append-only: use get_or_create")


class AppendOnlyModel(models.Model):
    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError(f"{type(self).__name__} #{self.pk} is append-only and cannot be changed")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError(f"{type(self).__name__} #{self.pk} is append-only and cannot be deleted")
