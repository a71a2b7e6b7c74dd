from django.apps import AppConfig


class BillingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "billing"
    verbose_name = "Billing core"

    def ready(self) -> None:
        # The core registers its own console panels and task kinds exactly as feature apps do.
        from django.db.models.signals import post_migrate

        from . import console_panels  # noqa: F401
        from .stripe import wiring as stripe_wiring

        post_migrate.connect(_after_migrate, sender=self)
        stripe_wiring.register(self)


def _after_migrate(sender, using, **kwargs):
    """Re-assert what a later migration (or the test runner's flush) may have removed."""
    from django.db import connections

    from billing.db.append_only import install_append_only_triggers
    from billing.db.corrections import install_correction_triggers
    from billing.roles import ensure_roles

    install_append_only_triggers(connections[using])
    install_correction_triggers(connections[using])
    ensure_roles()
