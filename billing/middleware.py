from zoneinfo import ZoneInfo

from django.utils import timezone

from billing.selectors.practice import practice_time_zone


class PracticeTimeZoneMiddleware:
    """Show times in the practice's zone (stored in UTC). Pages about one location (a day view, a
    public booking page) format in that location's zone explicitly."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        timezone.activate(ZoneInfo(practice_time_zone()))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
