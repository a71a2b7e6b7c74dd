"""API errors: a service's ValidationError becomes a 400 naming the field; PermissionDenied a 403.

Every 400 body is an object (field, or ``non_field_errors``, to messages), and a URL under /api/ that
matches no route answers JSON too, so the error shapes the schema documents (billing/api/schema.py) hold."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import JsonResponse
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler

from billing.views import errors as page_errors


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail=detail)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(detail=str(exc) or None)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, exceptions.ValidationError) and isinstance(response.data, list):
        response.data = {"non_field_errors": response.data}
    return response


def not_found(request, exception=None):
    """config/urls.py's handler404: JSON under /api/ (a mistyped id, a path no route takes), the page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_errors.not_found(request, exception)
