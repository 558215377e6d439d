"""Streaming multipart reader that enforces the upload limit while the body arrives.

Starlette's form parser spools whole files before a handler sees them; this reader
feeds python-multipart's push parser chunk by chunk and stops with 413 the moment a
file passes MAX_UPLOAD_BYTES (or at once when Content-Length already says so), so an
oversized upload is never held in memory.
"""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header
from starlette.requests import ClientDisconnect, Request

from models.media_errors import MediaTooLargeError
from service.api.errors import ApiError

if TYPE_CHECKING:  # the callback types exist for type checkers only
    from python_multipart.multipart import MultipartCallbacks

PART_OVERHEAD = 16 * 1024  # allowance per file for boundaries and part headers
FORM_OVERHEAD = 64 * 1024  # allowance for the rest of the form (small text fields)
# Parts a form may hold beside its files (e.g. POST /items' label). Each part costs the event
# loop ~14 us of parsing whatever it holds: 9 MB of empty parts took 2.3 s of CPU to read.
MAX_OTHER_PARTS = 8


@dataclass
class Upload:
    """One file part. data is None when the file was over the limit (batch slots)."""

    filename: str | None
    data: bytes | None
    field: str = ""  # the part's form field name (a form may carry small text fields too)


@dataclass
class _Part:
    name: str = ""
    filename: str | None = None
    chunks: list[bytes] = field(default_factory=list)
    size: int = 0
    wanted: bool = False
    too_large: bool = False


def too_large_error(max_bytes: int) -> MediaTooLargeError:
    """The one wording of "this file is over the limit", for a request and for a batch slot."""
    return MediaTooLargeError(f"upload exceeds the limit of {max_bytes:,} bytes (MAX_UPLOAD_BYTES)")


class _FormCollector:
    """python-multipart callbacks -> a list of Upload for the wanted field names."""

    def __init__(self, fields: tuple[str, ...], max_file_bytes: int, max_files: int, fail_fast: bool) -> None:
        self.fields = fields
        self.max_file_bytes = max_file_bytes
        self.max_files = max_files
        self.fail_fast = fail_fast  # single upload: 413 for the request; batch: mark the slot
        self.uploads: list[Upload] = []
        self._part = _Part()
        self._parts = 0  # parts begun so far
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._headers: dict[bytes, bytes] = {}

    def callbacks(self) -> "MultipartCallbacks":
        return {
            "on_part_begin": self._on_part_begin,
            "on_header_field": self._on_header_field,
            "on_header_value": self._on_header_value,
            "on_header_end": self._on_header_end,
            "on_headers_finished": self._on_headers_finished,
            "on_part_data": self._on_part_data,
            "on_part_end": self._on_part_end,
        }

    def _on_part_begin(self) -> None:
        self._parts += 1
        if self._parts > self.max_files + MAX_OTHER_PARTS:
            raise ApiError(
                400,
                "too_many_parts",
                f"the form holds more than {self.max_files + MAX_OTHER_PARTS} parts "
                f"({self.max_files} file(s) and at most {MAX_OTHER_PARTS} other fields)",
            )
        self._part = _Part()
        self._headers = {}

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        self._headers[bytes(self._header_field).lower()] = bytes(self._header_value)
        self._header_field.clear()
        self._header_value.clear()

    def _on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        part = self._part
        part.name = options.get(b"name", b"").decode("utf-8", "replace")
        raw_filename = options.get(b"filename")
        part.filename = raw_filename.decode("utf-8", "replace") if raw_filename is not None else None
        part.wanted = part.name in self.fields
        if part.wanted and len(self.uploads) >= self.max_files:
            raise ApiError(422, "too_many_files", f"at most {self.max_files} files per request")

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        part = self._part
        if not part.wanted or part.too_large:
            return  # other form fields and the rest of an oversized file are dropped
        part.size += end - start
        if part.size > self.max_file_bytes:
            if self.fail_fast:
                raise too_large_error(self.max_file_bytes)
            part.too_large, part.chunks = True, []
            return
        part.chunks.append(data[start:end])

    def _on_part_end(self) -> None:
        part = self._part
        if part.wanted:
            payload = None if part.too_large else b"".join(part.chunks)
            self.uploads.append(Upload(part.filename, payload, part.name))
        self._part = _Part()


def _boundary(request: Request) -> bytes:
    content_type, options = parse_options_header(request.headers.get("content-type"))
    if content_type != b"multipart/form-data":
        raise ApiError(
            415,
            "multipart_required",
            "send the file as multipart/form-data (e.g. curl -F file=@seven.png ...)",
        )
    boundary = options.get(b"boundary")
    if not boundary:
        raise ApiError(400, "invalid_multipart", "multipart/form-data without a boundary")
    return boundary


def _check_content_length(request: Request, limit: int, max_file_bytes: int) -> None:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large_error(max_file_bytes)


async def _chunks(request: Request) -> AsyncIterator[bytes]:
    try:
        async for chunk in request.stream():
            yield chunk
    except ClientDisconnect as exc:
        raise ApiError(400, "client_disconnected", "the client went away before the upload finished") from exc


async def read_uploads(
    request: Request,
    fields: tuple[str, ...],
    max_file_bytes: int,
    max_files: int,
    fail_fast: bool,
    timeout_s: float,
) -> list[Upload]:
    """Parse the multipart body as it streams in; keep only file parts named in fields.

    The whole body must arrive within timeout_s (UPLOAD_TIMEOUT_S), else 408: a client that
    stalls mid-upload would otherwise hold its connection and a search slot for ever.
    """
    body_limit = max_files * (max_file_bytes + PART_OVERHEAD) + FORM_OVERHEAD
    _check_content_length(request, body_limit, max_file_bytes)
    collector = _FormCollector(fields, max_file_bytes, max_files, fail_fast)
    parser = MultipartParser(_boundary(request), collector.callbacks())
    received = 0
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in _chunks(request):
                received += len(chunk)
                if received > body_limit:  # a lying or absent Content-Length
                    raise too_large_error(max_file_bytes)
                parser.write(chunk)
    except TimeoutError as exc:
        raise ApiError(
            408, "upload_timeout", f"the upload did not arrive within {timeout_s:g} s (UPLOAD_TIMEOUT_S)"
        ) from exc
    except MultipartParseError as exc:
        raise ApiError(400, "invalid_multipart", f"malformed multipart body: {exc}") from exc
    if parser.state != MultipartState.END:  # the body stopped before the closing boundary
        raise ApiError(400, "invalid_multipart", "the multipart body is truncated (no closing boundary)")
    return collector.uploads


async def read_single_upload(request: Request, max_bytes: int, timeout_s: float) -> bytes:
    """The one file of a search request, from the multipart field `file`."""
    uploads = await read_uploads(
        request, ("file",), max_bytes, max_files=1, fail_fast=True, timeout_s=timeout_s
    )
    if not uploads or uploads[0].data is None:
        raise ApiError(422, "missing_file", "no file uploaded: send it in the multipart field 'file'")
    return uploads[0].data
