from billing.registry import nav_items_for
from billing.roles import is_console_user, is_manager, role_label


def console(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "is_manager": is_manager(user),
        "is_console_user": is_console_user(user),
        "role_label": role_label(user),
        "nav_items": nav_items_for(user),
    }
