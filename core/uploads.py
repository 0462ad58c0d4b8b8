"""Refusing an upload by its size while it streams in, not after Django has stored it.

Django writes every uploaded file to memory or a temporary file, whatever its
size, before a view can look at `request.FILES`; a size check in the view runs
after a gigabyte has been read. `bounded_upload` checks the declared
`Content-Length` before reading anything, and puts `BoundedUploadHandler`
first among the upload handlers so that a file larger than the limit (in a
body that lies about its length) stops the parser at the limit.

A request without `Content-Length` (chunked) is read by Django as empty, so it
is refused outright rather than half-understood.

CSRF: `CsrfViewMiddleware` reads `request.POST` before the view, which would
parse the body with the default handlers. So `bounded_upload` is csrf_exempt
on the outside and checks CSRF itself once its handler is in place (the
pattern Django documents for custom upload handlers).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.defaults import bad_request

# Room for the form's other fields and the multipart headers around the files.
FORM_OVERHEAD_BYTES = 64 * 1024


class BoundedUploadHandler(FileUploadHandler):
    """Raises `RequestDataTooBig` as soon as one file, or the whole body, exceeds its limit."""

    def __init__(self, request: HttpRequest, *, max_file_bytes: int, max_body_bytes: int) -> None:
        super().__init__(request)
        self.max_file_bytes = max_file_bytes
        self.max_body_bytes = max_body_bytes
        self.file_bytes = 0

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None) -> None:
        if content_length > self.max_body_bytes:
            raise RequestDataTooBig(f"upload of {content_length} bytes exceeds {self.max_body_bytes}")

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        self.file_bytes = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.file_bytes += len(raw_data)
        if self.file_bytes > self.max_file_bytes:
            raise RequestDataTooBig(f"{self.file_name} exceeds {self.max_file_bytes} bytes")
        return raw_data  # the next handler stores it

    def file_complete(self, file_size: int) -> None:
        return None  # the next handler makes the file


def bounded_upload(
    *, max_file_bytes: Callable[[], int], max_files: Callable[[], int]
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Wrap a view that accepts multipart uploads of at most `max_files()` files of `max_file_bytes()` each.

    A POST whose declared length exceeds what that allows, that declares no
    length, or whose file exceeds the limit while it streams, is answered 400
    (Django's plain bad-request page) and the rest of its body is never read.
    The limits are callables so settings changed at run time (tests) apply.
    """

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        protected = csrf_protect(view)

        @csrf_exempt  # checked by `protected`, after the bounded handler is in place
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.method == "POST" and request.content_type == "multipart/form-data":
                file_limit = max_file_bytes()
                body_limit = file_limit * max_files() + FORM_OVERHEAD_BYTES
                try:
                    declared = int(request.META.get("CONTENT_LENGTH") or "")
                except ValueError:
                    return bad_request(request, RequestDataTooBig("an upload must declare its Content-Length"))
                if declared > body_limit:
                    return bad_request(request, RequestDataTooBig(f"upload of {declared} bytes exceeds {body_limit}"))
                request.upload_handlers.insert(
                    0, BoundedUploadHandler(request, max_file_bytes=file_limit, max_body_bytes=body_limit)
                )
            try:
                return protected(request, *args, **kwargs)
            except RequestDataTooBig as error:
                return bad_request(request, error)

        return wrapper

    return decorate
