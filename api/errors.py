"""One JSON error shape for every failure: `{code, message_id, message, correlation_id}`."""

from __future__ import annotations

import logging

from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response

from api.parsers import JSONBodyRefused
from core.errors import (
    ERR_AMOUNT_RANGE,
    ERR_AUTHN_REQUIRED,
    ERR_AUTHZ_SCOPE,
    ERR_METHOD_NOT_ALLOWED,
    ERR_NOT_FOUND,
    ERR_RATE_LIMITED,
    ERR_VALIDATION,
    DomainError,
    error_body,
)

logger = logging.getLogger("api")


def error_response(code: str, message: str | None = None, **details) -> Response:
    status, body = error_body(code, message, **details)
    return Response(body, status=status)


def domain_error_response(error: DomainError) -> Response:
    return error_response(error.code, error.message, **error.details)


def _validation_code(detail) -> tuple[str, dict]:
    """Map serializer errors to our codes; an amount problem has its own code."""
    fields = detail if isinstance(detail, dict) else {"non_field_errors": detail}
    if "amount_minor" in fields:
        return ERR_AMOUNT_RANGE, {"fields": fields}
    return ERR_VALIDATION, {"fields": fields}


def exception_handler(exc, context) -> Response | None:
    if isinstance(exc, DomainError):
        return domain_error_response(exc)
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        response = error_response(ERR_AUTHN_REQUIRED, str(exc.detail))
        response["WWW-Authenticate"] = "Bearer"
        return response
    if isinstance(exc, exceptions.PermissionDenied):
        return error_response(ERR_AUTHZ_SCOPE, str(exc.detail))
    if isinstance(exc, Http404 | exceptions.NotFound):
        return error_response(ERR_NOT_FOUND)
    if isinstance(exc, exceptions.Throttled):
        response = error_response(ERR_RATE_LIMITED)
        if exc.wait:
            response["Retry-After"] = str(int(exc.wait) + 1)
        return response
    if isinstance(exc, exceptions.MethodNotAllowed):
        return error_response(ERR_METHOD_NOT_ALLOWED)
    if isinstance(exc, JSONBodyRefused):
        return error_response(ERR_VALIDATION, str(exc.detail))
    if isinstance(exc, exceptions.ParseError):
        return error_response(ERR_VALIDATION, "The body is not valid JSON.")
    if isinstance(exc, exceptions.UnsupportedMediaType):
        parsers = getattr(context.get("view"), "parser_classes", None) or []
        media_type = parsers[0].media_type if parsers else "application/json"
        return error_response(ERR_VALIDATION, f"Send the body as {media_type}.")
    if isinstance(exc, exceptions.ValidationError):
        code, details = _validation_code(exc.detail)
        return error_response(code, **details)
    if isinstance(exc, exceptions.APIException):
        return error_response(ERR_VALIDATION, str(exc.detail))
    return None
