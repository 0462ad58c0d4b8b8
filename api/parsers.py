"""The API's parsers: DRF's JSON parser with a nesting limit and no NUL (see `core.jsonsafe`), and the bounded
multipart parser of evidence uploads."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser, MultiPartParser

from core import jsonsafe
from core.errors import ERR_BODY_TOO_LARGE, ERR_VALIDATION, DomainError
from core.uploads import BoundedUploadHandler
from refunds.services.evidence import evidence_body_max_bytes, evidence_clean_name, evidence_max_bytes


class JSONBodyRefused(ParseError):
    """A body that is no JSON we accept; its detail says why (answered 400 ERR.VALIDATION.request)."""


class BoundedJSONParser(JSONParser):
    """Reads the body whole (Django already caps it at DATA_UPLOAD_MAX_MEMORY_SIZE) and decodes it bounded."""

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            return jsonsafe.loads(stream.read().decode(encoding))
        except UnicodeDecodeError:
            raise JSONBodyRefused(f"The body is not valid {encoding} text.") from None
        except jsonsafe.JSONInputError as error:
            raise JSONBodyRefused(f"The body is not JSON we accept: {error}.") from None


class EvidenceMultiPartParser(MultiPartParser):
    """multipart/form-data for evidence uploads, cut off as it streams in (`core.uploads.BoundedUploadHandler`).

    The bounded handler goes first among the request's upload handlers, so a
    file over EVIDENCE_MAX_BYTES stops the parser there instead of being
    stored whole in a temporary file first; it is refused like an oversized
    file the console gets (400, `details.field = "evidence"`). A body that is
    no multipart we can read is a 400 `ERR.VALIDATION.request` saying so.
    """

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        request = (parser_context or {})["request"]
        file_limit = evidence_max_bytes()
        body_limit = evidence_body_max_bytes()
        handler = BoundedUploadHandler(request._request, max_file_bytes=file_limit, max_body_bytes=body_limit)
        request._request.upload_handlers.insert(0, handler)
        try:
            return super().parse(stream, media_type, parser_context)
        except RequestDataTooBig:
            if handler.file_bytes > file_limit:
                name = evidence_clean_name(handler.file_name or "")
                raise DomainError(
                    ERR_VALIDATION, f"{name} is larger than {file_limit // (1024 * 1024)} MB.", field="evidence"
                ) from None
            raise DomainError(ERR_BODY_TOO_LARGE, max_bytes=body_limit) from None
        except ParseError as error:
            raise JSONBodyRefused(f"The body is not multipart/form-data we can read: {error.detail}") from None
