from scheduling.models import SchedulingSettings


def scheduling_settings() -> SchedulingSettings:
    """The practice's one settings row (a migration creates it; recreated with defaults if it was wiped)."""
    row, _ = SchedulingSettings.objects.get_or_create(singleton=True)
    return row
