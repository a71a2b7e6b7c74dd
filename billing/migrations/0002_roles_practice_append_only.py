from django.db import migrations

from billing.db.append_only import install_append_only_triggers
from billing.roles import ROLE_GRANTS, grant_permissions


def create_roles(apps, schema_editor):
    grant_permissions(ROLE_GRANTS, apps=apps)


def create_practice(apps, schema_editor):
    Practice = apps.get_model("billing", "Practice")
    Practice.objects.get_or_create(singleton=True, defaults={"legal_name": "Your Practice"})


def append_only(apps, schema_editor):
    install_append_only_triggers(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0001_core"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(create_roles, migrations.RunPython.noop),
        migrations.RunPython(create_practice, migrations.RunPython.noop),
        migrations.RunPython(append_only, migrations.RunPython.noop),
    ]
