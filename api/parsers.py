"""The API's JSON parser: DRF's, with a nesting limit and no NUL (see `core.jsonsafe`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from core import jsonsafe


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
