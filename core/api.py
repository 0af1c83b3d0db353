"""API base: the router, pagination, the shared base viewset and the error format.

Every app registers its viewsets on ``router`` in its ``api/urls.py``-free ``api.py`` module,
imported by ``config.urls``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, viewsets
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from core.errors import DomainError, error_body, status_of
from core.input import InvalidInput


class Router(DefaultRouter):
    """DRF's router, with ids of at most 19 digits (a bigint) in ``\\d+`` lookups: a longer
    number is a 404 from the resolver instead of reaching ``int()`` or the database."""

    def get_lookup_regex(self, viewset, lookup_prefix: str = "") -> str:
        return super().get_lookup_regex(viewset, lookup_prefix).replace(r"\d+", r"\d{1,19}")


router = Router()


class BaseViewSet(viewsets.GenericViewSet):
    """Shared base: subclasses give ``get_queryset`` through ``.visible_to(request.user)``.

    Views stay adapters: they parse, call one access helper or service, and render.
    """

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        context["acting_user"] = self.request.user
        return context


def drf_validation_error(exc: DjangoValidationError) -> exceptions.ValidationError:
    """A service's ValidationError as DRF's: per field, or under ``non_field_errors``."""
    if hasattr(exc, "error_dict"):
        return exceptions.ValidationError(exc.message_dict)
    return exceptions.ValidationError({"non_field_errors": exc.messages})


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, with one error shape: ``{"detail": ..., "errors": {field: [...]}}``.

    "Missing" and "forbidden" on a single object are both a 404 (access helpers raise Http404).
    A service's Django ValidationError is a 400 with its messages, so views need not catch it.
    A domain refusal (``core.errors``) keeps its message and code:
    ``{"detail": ..., "code": ..., "errors": {field: [...]}}`` with the status of its kind.
    """
    if isinstance(exc, DomainError):
        set_rollback()
        return Response(error_body(exc), status=status_of(exc))
    if isinstance(exc, InvalidInput):
        field = exc.field or "non_field_errors"
        exc = exceptions.ValidationError({field: [exc.message]})
    elif isinstance(exc, DjangoValidationError):
        exc = drf_validation_error(exc)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = (
            response.data
            if isinstance(response.data, dict)
            else {"non_field_errors": response.data}
        )
        response.data = {"detail": str(exceptions.ValidationError.default_detail), "errors": errors}
    elif isinstance(response.data, dict) and "detail" in response.data:
        response.data = {"detail": str(response.data["detail"])}
    return response


DB_INTEGER_LIMITS = {
    32767,
    2147483647,
    9223372036854775807,
    -32768,
    -2147483648,
    -9223372036854775808,
}


def normalise_integer_limits(result: dict, generator, request, public) -> dict:
    """Drop integer bounds that only reflect the database's column width.

    Django derives them from the connection (SQLite and PostgreSQL differ), which would make
    the committed ``openapi.yaml`` depend on the database it was generated on.
    """

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "integer":
                for bound in ("maximum", "minimum"):
                    if node.get(bound) in DB_INTEGER_LIMITS:
                        del node[bound]
                        if node.get("format") == "int64":
                            del node["format"]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(result)
    return result


# The error contract (``exception_handler``): which refusals an operation may answer. Written
# into the schema so that a client (and the Schemathesis run in tests/security) can hold every
# answer to it; a status outside these and the documented successes is a bug.
ERROR_SCHEMA = {
    "type": "object",
    "description": "A refusal: a message, a machine-readable code for domain refusals, and "
    "per-field messages for invalid input.",
    "properties": {
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "errors": {"type": "object", "additionalProperties": True},
    },
    "required": ["detail"],
}
ERRORS = {
    "400": "Invalid input (per-field messages in ``errors``).",
    "401": "The credentials given are not valid.",
    "403": "Not allowed (or not signed in).",
    "404": "Not found, or not visible to the caller (the same answer).",
    "409": "Conflicts with the current state.",
    "413": "The request is too large.",
    "415": "Unsupported media type.",
    "429": "Too many requests (throttled).",
}
UNSAFE = {"post", "put", "patch", "delete"}


def document_errors(result: dict, generator, request, public) -> dict:
    """Add the error answers every operation can give (``ERRORS``) to its responses: 400 where
    it takes input, 409/413/415 where it writes or takes a body, the rest everywhere."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete", "head", "options"}:
                continue
            body = "requestBody" in operation
            wanted = {"401", "403", "404", "429"}
            if body or operation.get("parameters"):
                wanted.add("400")
            if method in UNSAFE:
                wanted.add("409")
            if body:
                wanted |= {"413", "415"}
            responses = operation.setdefault("responses", {})
            for code in sorted(wanted):
                responses.setdefault(code, {"content": ref, "description": ERRORS[code]})
    return result
