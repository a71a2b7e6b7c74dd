"""The OpenAPI schema says every status an operation can answer, not only its success.

drf-spectacular documents the success response of each operation. This AutoSchema (settings'
DEFAULT_SCHEMA_CLASS) adds, to every operation of /api/v1/, the errors our views and
``billing.api.errors.exception_handler`` answer, with their body shapes:

- 400 (field errors: ``{"field": ["message"]}``) for every write, and reads that take query parameters
  (a malformed filter or page_size):
  a serializer's or a service's ValidationError (business rules the schema can't express, such as an
  amount's sign, or a transition the appointment's status doesn't allow);
- 403 (``{"detail": ...}``) unless the operation is public: not logged in, or the role can't do this;
- 404 (``{"detail": ...}``) when the path names an object, the list is paginated (a page past the end),
  or a ``location`` parameter names a location (an unknown slug);
- 415 (``{"detail": ...}``) when the operation takes a body: a content type it doesn't read (or a multipart
  body too malformed to tell).

Operations that declare one of these codes themselves keep their own (a description without a body gets
the body above).
"""

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from rest_framework.permissions import AllowAny

FIELD_ERRORS = {
    "type": "object",
    "description": "Field name (or non_field_errors) to what is wrong with it. Nothing was written.",
    "additionalProperties": {
        "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
    },
}
DETAIL = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


class AutoSchema(SpectacularAutoSchema):
    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        responses = operation.setdefault("responses", {})
        parameters = operation.get("parameters", [])
        query = {p["name"] for p in parameters if p.get("in") == "query"}
        in_path = any(p.get("in") == "path" for p in parameters)
        errors = {}
        if self.method != "GET" or query:
            errors["400"] = _json(FIELD_ERRORS, "Invalid input, or a business rule refused it; nothing was written.")
        if not self._is_public():
            errors["403"] = _json(DETAIL, "Not logged in, or this role may not do this.")
        if in_path or "location" in query or (self._is_list_view() and self._get_paginator() and "page" in query):
            errors["404"] = _json(DETAIL, "No such object (or page, or location).")
        if "requestBody" in operation:
            errors["415"] = _json(DETAIL, "The body's content type isn't one this operation reads, or it is malformed.")
        for code, response in errors.items():
            declared = responses.setdefault(code, response)
            if "content" not in declared:  # declared with a description only: give it the body it has
                declared["content"] = response["content"]
        return operation

    def _is_public(self) -> bool:
        permissions = self.view.get_permissions()
        return bool(permissions) and all(isinstance(p, AllowAny) for p in permissions)
