from rest_framework.permissions import BasePermission

from billing.roles import is_console_user, is_manager


class IsConsoleUser(BasePermission):
    """Front desk or manager (the default for every endpoint)."""

    message = "Your account has no console role."

    def has_permission(self, request, view):
        return is_console_user(request.user)


class IsManager(BasePermission):
    message = "Only a manager can do this."

    def has_permission(self, request, view):
        return is_manager(request.user)
