from django.db import migrations


def create_settings(apps, schema_editor):
    SchedulingSettings = apps.get_model("scheduling", "SchedulingSettings")
    SchedulingSettings.objects.get_or_create(singleton=True)


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0001_calendar")]

    operations = [migrations.RunPython(create_settings, migrations.RunPython.noop)]
