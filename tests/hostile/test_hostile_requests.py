"""Hostile request shapes through real HTTP: file names that are not names, missing and doubled
fields, a 1 GB streamed body, a body that trickles in, one that stalls."""

import resource
import select
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

from service.api.uploads import MAX_OTHER_PARTS
from service.settings import ServiceSettings
from tests.hostile.test_hostile_uploads import assert_error, assert_still_serving
from tests.media import digit_image
from tests.service.helpers import MAX_BATCH, LiveServer, Media, live_server_for, read_response

BOUNDARY = b"hostile-boundary-7f3a"
CONTENT_TYPE = {"content-type": "multipart/form-data; boundary=" + BOUNDARY.decode()}
GIB = 1024**3


def part(field: bytes, data: bytes, filename: bytes | None = b"seven.png", extra: bytes = b"") -> bytes:
    """One multipart part written byte by byte, so names can hold anything a client can send."""
    disposition = b'Content-Disposition: form-data; name="' + field + b'"'
    if filename is not None:
        disposition += b'; filename="' + filename + b'"'
    return b"--" + BOUNDARY + b"\r\n" + disposition + b"\r\n" + extra + b"\r\n" + data + b"\r\n"


def form(*parts: bytes) -> bytes:
    return b"".join(parts) + b"--" + BOUNDARY + b"--\r\n"


def rss_mb() -> float:
    """Resident memory of this process now (the live server runs in it), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise AssertionError("no VmRSS in /proc/self/status")


FILENAMES = {
    "non-UTF-8 bytes": b"\xff\xfe\xc3\x28seven.png",
    "parent traversal": b"../../../../etc/passwd",
    "absolute path": b"/etc/shadow",
    "Windows path": b"C:\\Windows\\System32\\config\\SAM",
    "NUL inside": b"seven\x00.png",
    "1,000 characters": b"7" * 1_000,
    "empty": b"",
    "HTML": b"<script>alert(1)</script>.png",
}


@pytest.mark.parametrize("raw_name", FILENAMES.values(), ids=list(FILENAMES))
def test_file_names_are_never_used(http: httpx.Client, media: Media, raw_name: bytes) -> None:
    """The name is neither read nor trusted: a good image is searched, a bad one refused the same."""
    good = http.post("/search", content=form(part(b"file", media.pngs[1], raw_name)), headers=CONTENT_TYPE)
    assert good.status_code == 200, good.text[:300]
    assert good.json()["query"]["format"] == "png"
    bad = http.post("/search", content=form(part(b"file", b"not an image", raw_name)), headers=CONTENT_TYPE)
    assert_error(bad, 415, "unsupported_media_type")
    batch = http.post(
        "/search/batch", content=form(part(b"files", media.pngs[1], raw_name)), headers=CONTENT_TYPE
    )
    assert batch.status_code == 200, batch.text[:300]
    slot = batch.json()["results"][0]
    assert slot["status"] == 200
    # echoed as text (python-multipart keeps what follows a Windows path's last backslash), never opened
    assert raw_name.decode("utf-8", "replace").endswith(slot["filename"])
    assert_still_serving(http, media)


PNG = digit_image("PNG")
SHAPES = {
    "missing file field": ("/search", form(part(b"image", PNG)), 422, "missing_file"),
    "two file fields": ("/search", form(part(b"file", PNG), part(b"file", PNG)), 422, "too_many_files"),
    "an empty form": ("/search", form(), 422, "missing_file"),
    "only a text field": ("/search", form(part(b"k", b"3", None)), 422, "missing_file"),
    "an empty batch": ("/search/batch", form(part(b"note", b"hi", None)), 422, "missing_file"),
    "a batch one file over the limit": (
        "/search/batch",
        form(*[part(b"files", PNG)] * (MAX_BATCH + 1)),
        422,
        "too_many_files",
    ),
    "no closing boundary": (
        "/search",
        form(part(b"file", PNG))[: -len(BOUNDARY) - 6],
        400,
        "invalid_multipart",
    ),
    "a part header of 200 kB": (
        "/search",
        form(part(b"file", PNG, extra=b"X-Padding: " + b"a" * 200_000 + b"\r\n")),
        400,
        "invalid_multipart",
    ),
    "a 10,000-character file name": (
        "/search",
        form(part(b"file", PNG, b"7" * 10_000)),
        400,
        "invalid_multipart",
    ),
    "a body of boundaries only": ("/search", b"--" + BOUNDARY + b"\r\n" * 50_000, 400, "invalid_multipart"),
    # each part costs parsing whatever it holds: 9 MB of empty ones took 2.3 s of CPU to read
    "1,000 empty fields before the file": (
        "/search",
        form(*[part(b"x", b"", None)] * 1_000, part(b"file", PNG)),
        400,
        "too_many_parts",
    ),
    "a full batch and 9 more fields": (
        "/search/batch",
        form(*[part(b"files", PNG)] * MAX_BATCH, *[part(b"note", b"hi", None)] * (MAX_OTHER_PARTS + 1)),
        400,
        "too_many_parts",
    ),
}


def test_a_file_and_as_many_other_fields_as_allowed_is_searched(http: httpx.Client) -> None:
    body = form(*[part(b"note", b"hi", None)] * MAX_OTHER_PARTS, part(b"file", PNG))
    response = http.post("/search", content=body, headers=CONTENT_TYPE)
    assert response.status_code == 200, response.text[:300]
    assert response.json()["query"]["format"] == "png"


@pytest.mark.parametrize(("path", "body", "status", "code"), SHAPES.values(), ids=list(SHAPES))
def test_request_shapes(
    http: httpx.Client, media: Media, path: str, body: bytes, status: int, code: str
) -> None:
    assert_error(http.post(path, content=body, headers=CONTENT_TYPE), status, code)
    assert_still_serving(http, media)


def test_requests_that_are_not_multipart(http: httpx.Client, media: Media) -> None:
    no_boundary = http.post(
        "/search", content=form(part(b"file", PNG)), headers={"content-type": "multipart/form-data"}
    )
    assert_error(no_boundary, 400, "invalid_multipart")
    assert_error(
        http.post("/search", content=PNG, headers={"content-type": "image/png"}), 415, "multipart_required"
    )
    assert_error(http.post("/search", json={"file": "iVBORw0KGgo="}), 415, "multipart_required")
    assert_still_serving(http, media)


def stream_until_answered(server: LiveServer, head: bytes, total: int, chunk: bytes) -> tuple[int, bytes]:
    """Send `head`, then `chunk` after `chunk` (chunked transfer, so no Content-Length can refuse
    it up front) until `total` bytes or until the server answers. Returns (bytes sent, answer)."""
    request = (
        b"POST /search HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\nContent-Type: "
        + CONTENT_TYPE["content-type"].encode()
        + b"\r\n\r\n"
    )
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sent = 0
    with socket.create_connection((server.host, server.port), timeout=30) as sock:
        sock.sendall(request + f"{len(head):x}\r\n".encode() + head + b"\r\n")
        while sent < total:
            readable, writable, _ = select.select([sock], [sock], [], 30)
            if readable:
                return sent, read_response(sock)
            assert writable, "the server neither read nor answered for 30 s"
            sock.sendall(framed)
            sent += len(chunk)
        sock.settimeout(30)
        return sent, read_response(sock)


@pytest.mark.slow
def test_a_1_gib_streamed_body_is_refused_at_the_limit_without_buffering(
    live_server: LiveServer, http: httpx.Client, media: Media, small_index: ServiceSettings
) -> None:
    """An upload that would go on for 1 GiB: the 413 comes once MAX_UPLOAD_BYTES have arrived,
    long before the end, and the server's memory (it runs in this process) does not grow by
    anything like the body."""
    head = b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="file"; filename="big.png"\r\n\r\n'
    before = rss_mb()
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    sent, answer = stream_until_answered(live_server, head + media.pngs[0], GIB, bytes(256 * 1024))
    grew = rss_mb() - before
    peak_grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0 - peak_before
    assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
    assert b'"payload_too_large"' in answer
    # answered after the limit plus what the socket buffers held, not after the gigabyte
    assert sent < small_index.max_upload_bytes + 32 * 1024 * 1024, f"{sent:,} bytes sent before the 413"
    assert grew < 64 and peak_grew < 64, f"RSS grew {grew:.0f} MB (peak {peak_grew:.0f} MB) for a 1 GiB body"
    assert_still_serving(http, media)


@pytest.mark.slow
def test_a_slow_body_is_answered_and_blocks_no_one(
    live_server: LiveServer, http: httpx.Client, media: Media
) -> None:
    """An upload trickling in over ~3 s (100 bytes every 50 ms) gets its normal answer, and other
    searches are answered while it arrives."""
    body = form(part(b"file", digit_image("BMP")))  # ~5 kB: about 3 s at this pace
    request = (
        b"POST /search HTTP/1.1\r\nHost: test\r\nContent-Type: "
        + CONTENT_TYPE["content-type"].encode()
        + b"\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\nConnection: close\r\n\r\n"
    )
    reply: list[bytes] = []

    def trickle() -> None:
        with socket.create_connection((live_server.host, live_server.port), timeout=30) as sock:
            sock.sendall(request)
            for i in range(0, len(body), 100):
                sock.sendall(body[i : i + 100])
                time.sleep(0.05)
            while data := sock.recv(65_536):
                reply.append(data)

    sender = threading.Thread(target=trickle)
    sender.start()
    answered_meanwhile = 0
    while sender.is_alive():
        assert_still_serving(http, media)
        answered_meanwhile += 1
    sender.join()
    assert b"".join(reply).startswith(b"HTTP/1.1 200"), b"".join(reply)[:300]
    assert answered_meanwhile >= 5


@pytest.mark.slow
def test_a_stalled_upload_is_cut_off_after_upload_timeout_s(small_index: ServiceSettings) -> None:
    """UPLOAD_TIMEOUT_S bounds how long an upload may take to arrive; past it the service
    answers 408 and frees the request's search slot (here the only one)."""
    settings = small_index.model_copy(update={"upload_timeout_s": 1.0, "max_searches_in_flight": 1})
    with live_server_for(settings) as server, socket.create_connection((server.host, server.port)) as sock:
        sock.sendall(
            b"POST /search HTTP/1.1\r\nHost: test\r\nContent-Type: "
            + CONTENT_TYPE["content-type"].encode()
            + b"\r\nContent-Length: 100000\r\n\r\n"
            + part(b"file", b"\x89PNG")[:-2]
        )
        sock.settimeout(settings.upload_timeout_s + 5.0)
        assert sock.recv(65_536).startswith(b"HTTP/1.1 408")
        png = digit_image("PNG")
        res = httpx.post(f"{server.url}/search", files={"file": ("7.png", png)}, timeout=30)
        assert res.status_code == 200, res.text  # the slot was given back
