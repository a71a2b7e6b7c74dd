from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "scheduling"
    verbose_name = "Scheduling and online booking"

    def ready(self) -> None:
        # Plug into the core through its registries (billing never imports scheduling).
        from django.db.models.signals import post_migrate

        from . import registrations  # noqa: F401

        post_migrate.connect(_after_migrate, sender=self)


def _after_migrate(sender, using, **kwargs):
    """Re-assert what a flush (the test runner's) removes: the settings row and the job schedules."""
    from .schedules import ensure_schedules
    from .selectors.settings import scheduling_settings

    scheduling_settings()
    ensure_schedules()
