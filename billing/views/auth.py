"""Login and logout. Failed and successful attempts alike count against a per-IP and a per-username
rate limit (django-ratelimit), so password guessing is slowed whichever the attacker varies."""

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.shortcuts import render
from django_ratelimit.decorators import ratelimit


def login_rate(group, request) -> str:
    return settings.LOGIN_RATE  # read per request, so the setting can change without a restart


def rate_limited_login(view):
    view = ratelimit(key="post:username", rate=login_rate, method="POST", block=True)(view)
    return ratelimit(key="ip", rate=login_rate, method="POST", block=True)(view)


login = rate_limited_login(auth_views.LoginView.as_view(redirect_authenticated_user=True))
logout = auth_views.LogoutView.as_view()


def ratelimited(request, exception=None):
    """Shown by django-ratelimit's middleware when a limit trips (settings.RATELIMIT_VIEW)."""
    if request.path.startswith("/api/"):
        from django.http import JsonResponse

        return JsonResponse({"detail": "Too many attempts. Wait a minute and try again."}, status=429)
    return render(request, "errors/429.html", status=429)
