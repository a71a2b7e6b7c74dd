"""Staff roles. Two Django groups, created by a data migration, carry two custom permissions:

- ``billing.use_console``: the console, the API (front desk and manager);
- ``billing.manage_practice``: reversals, manual ledger entries, settings, the audit trail (manager only).
"""

from django.contrib.auth.models import AnonymousUser

FRONT_DESK_GROUP = "Front desk"
MANAGER_GROUP = "Manager"

USE_CONSOLE = "billing.use_console"
MANAGE_PRACTICE = "billing.manage_practice"


def is_console_user(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.has_perm(USE_CONSOLE))


def is_manager(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.has_perm(MANAGE_PRACTICE))


def role_label(user) -> str:
    if user is None or isinstance(user, AnonymousUser):
        return ""
    if is_manager(user):
        return "Manager"
    if is_console_user(user):
        return "Front desk"
    return ""


# What each role may do, as "app_label.codename" (or "app_label.*" for every permission of an app).
# Feature apps grant their own permissions from their own data migrations with grant_permissions().
ROLE_GRANTS = {
    FRONT_DESK_GROUP: [
        USE_CONSOLE,
        "billing.view_patient",
        "billing.add_patient",
        "billing.change_patient",
        "billing.view_household",
        "billing.add_household",
        "billing.change_household",
        "billing.view_ledgerentry",
        "billing.view_stafftask",
        "billing.change_stafftask",
        "billing.view_location",
        "billing.view_message",
    ],
    MANAGER_GROUP: [USE_CONSOLE, "billing.*"],
}


def grant_permissions(grants: dict[str, list[str]], apps=None) -> None:
    """Create the groups if needed and add the permissions. Idempotent; works in a data migration
    (pass its ``apps``) and at run time (tests rebuild roles after a flush)."""
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    apps = apps or global_apps
    for app_config in apps.get_app_configs():
        needs_module = getattr(app_config, "models_module", None) is None
        if needs_module:
            app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        if needs_module:
            app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group_name, perms in grants.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        wanted = []
        for perm in perms:
            app_label, codename = perm.split(".", 1)
            qs = Permission.objects.filter(content_type__app_label=app_label)
            if codename != "*":
                qs = qs.filter(codename=codename)
                if not qs.exists():
                    raise LookupError(f"No permission {perm}")
            wanted.extend(qs)
        group.permissions.add(*wanted)


_extra_grants: list[dict[str, list[str]]] = []


def register_role_grants(grants: dict[str, list[str]]) -> None:
    """A feature app adds its own permissions to the roles (from its AppConfig.ready())."""
    _extra_grants.append(grants)


def ensure_roles() -> None:
    """Make the groups hold every permission the code grants them. Runs after every ``migrate`` (and
    after the test runner's flush), beside the data migration that first created the groups."""
    grant_permissions(ROLE_GRANTS)
    for grants in _extra_grants:
        grant_permissions(grants)
