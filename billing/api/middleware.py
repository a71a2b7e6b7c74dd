"""A NUL character in an /api/ query parameter is a 400 naming the parameter.

PostgreSQL can't hold NUL in text, so a lookup like ``Location.objects.get(slug="a\\x00")`` raises inside the
database driver: a 500 on PostgreSQL (SQLite just finds nothing). Bodies are covered by DRF's CharField;
query parameters go to selectors directly, so they are checked once here for every endpoint."""

from django.http import JsonResponse


class RefuseNulInApiQueryMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            bad = sorted({key for key, values in request.GET.lists() for v in [key, *values] if "\x00" in v})
            if bad:
                return JsonResponse(dict.fromkeys(bad, ["Remove the NUL character (U+0000)."]), status=400)
        return self.get_response(request)
