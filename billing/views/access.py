"""Who may open a console page: logged-in staff with the console role; some pages managers only."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

from billing.roles import is_console_user, is_manager


def console_required(view):
    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not is_console_user(request.user):
            raise PermissionDenied("Your account has no console role. Ask a manager to add you to Front desk.")
        return view(request, *args, **kwargs)

    return wrapper


def manager_required(view):
    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not is_manager(request.user):
            raise PermissionDenied("Only a manager can do this.")
        return view(request, *args, **kwargs)

    return wrapper
