"""Every error code through HTTP, and no client input producing a 500."""

import io
import random
import socket
import struct
from uuid import UUID

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image

from models.media_errors import CorruptMediaError, MediaError, MediaTooLargeError, UnsupportedMediaError
from models.preprocess import ACCEPTED
from service.api.errors import SEARCH_ERRORS, install_error_handlers, media_status, search_error
from service.search import errors as search_errors
from service.search.errors import HeavyLaneFull, ItemNotFound, MapUnavailable, SearchError
from tests.media import lying_wav, png_bomb, sine_wav
from tests.service.helpers import LiveServer, Media, read_response


def post_file(
    client: TestClient, data: bytes, name: str = "upload.png", path: str = "/search", **params: object
):
    return client.post(path, params=params, files={"file": (name, data, "image/png")})


def assert_error(r, status: int, code: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code
    return body["error"]


def test_truncated_png_is_400(client: TestClient, media: Media) -> None:
    assert_error(post_file(client, media.pngs[0][: len(media.pngs[0]) // 2]), 400, "invalid_image")


def test_text_renamed_png_is_415_naming_the_accepted_types(client: TestClient) -> None:
    err = assert_error(post_file(client, b"hello, I am not a picture\n" * 10, "seven.png"), 415)
    assert ACCEPTED in err["message"]


def test_pdf_is_415(client: TestClient) -> None:
    assert_error(
        post_file(client, b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "a.pdf"), 415, "unsupported_media_type"
    )


def test_empty_upload_is_400(client: TestClient) -> None:
    assert_error(post_file(client, b""), 400, "empty_upload")


def test_wav_header_that_lies_is_400(client: TestClient, media: Media) -> None:
    err = assert_error(post_file(client, lying_wav(media.wavs[0]), "x.wav"), 400, "invalid_wav")
    assert "header" in err["message"]


def test_overlong_and_silent_audio_are_400(client: TestClient) -> None:
    assert_error(post_file(client, sine_wav(11.0), "long.wav"), 400, "audio_too_long")
    silent = sine_wav(0.5)[:44] + b"\0" * 8000
    assert_error(post_file(client, silent, "silent.wav"), 400, "silent_audio")


def test_png_bomb_is_400(client: TestClient) -> None:
    bomb = png_bomb(50_000, 50_000)
    assert len(bomb) < 2000
    assert_error(post_file(client, bomb), 400, "decompression_bomb")


def test_blank_image_is_400(client: TestClient) -> None:
    buf = io.BytesIO()
    Image.new("L", (64, 64), 255).save(buf, format="PNG")
    assert_error(post_file(client, buf.getvalue()), 400, "blank_image")


def test_too_big_upload_is_413(client: TestClient, app: FastAPI, media: Media) -> None:
    limit = app.state.settings.max_upload_bytes
    assert_error(post_file(client, media.pngs[0] + b"\0" * limit), 413, "payload_too_large")
    # A file of exactly the limit is still taken (and here fails later, as content).
    exact = media.pngs[0] + b"\0" * (limit - len(media.pngs[0]))
    assert post_file(client, exact).status_code != 413


def test_413_arrives_before_the_body_is_read(client: TestClient, app: FastAPI, media: Media) -> None:
    """Drive the ASGI app with a body that keeps coming: it must stop reading and answer 413."""
    limit = app.state.settings.max_upload_bytes
    boundary = "xXx-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()
    chunk, total_chunks = b"\0" * 65_536, 200  # 13 MB offered, limit is far below
    pulled, sent = 0, []

    async def receive() -> dict:
        nonlocal pulled
        pulled += 1
        body = head + media.pngs[0] if pulled == 1 else chunk
        return {"type": "http.request", "body": body, "more_body": pulled < total_chunks}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/search",
        "raw_path": b"/search",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", f"multipart/form-data; boundary={boundary}".encode())],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
        "state": {},
    }
    client.portal.call(app, scope, receive, send)  # type: ignore[union-attr]
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 413
    assert pulled * len(chunk) <= limit + 2 * len(chunk)  # stopped right after the limit
    assert pulled < total_chunks


def test_declared_content_length_too_big_is_413_without_sending_the_body(live_server: LiveServer) -> None:
    """Real socket: headers announce 1 GB; the server answers 413 at once, never reading it."""
    with socket.create_connection((live_server.host, live_server.port), timeout=10) as sock:
        sock.sendall(
            b"POST /search HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: multipart/form-data; boundary=abc\r\n"
            b"Content-Length: 1000000000\r\n\r\n"
        )
        reply = read_response(sock).decode("latin-1")
    assert reply.startswith("HTTP/1.1 413"), reply[:200]
    assert '"payload_too_large"' in reply


@pytest.mark.parametrize(
    ("params", "word"),
    [
        ({"k": 0}, "k"),
        ({"k": 101}, "k"),
        ({"target": "video"}, "target"),
        ({"offset": -1}, "offset"),
        ({"offset": 10_000_000}, "offset"),
        ({"max_distance": -0.1}, "max_distance"),
        ({"max_distance": "far"}, "max_distance"),
    ],
)
def test_bad_parameters_are_422(client: TestClient, media: Media, params: dict, word: str) -> None:
    err = assert_error(post_file(client, media.pngs[0], **params), 422, "invalid_parameters")
    assert word in err["message"]


def test_request_shape_errors(client: TestClient, media: Media) -> None:
    assert_error(client.post("/search", files={"image": ("a.png", media.pngs[0])}), 422, "missing_file")
    assert_error(client.post("/search"), 415, "multipart_required")
    assert_error(client.post("/search", content=media.pngs[0], headers={"content-type": "image/png"}), 415)
    bad = {"content-type": "multipart/form-data"}
    assert_error(client.post("/search", content=b"--x\r\n", headers=bad), 400, "invalid_multipart")
    truncated = {"content-type": "multipart/form-data; boundary=x"}
    body = b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n' + media.pngs[0]
    assert_error(client.post("/search", content=body, headers=truncated), 400, "invalid_multipart")
    assert_error(client.get("/search"), 405, "method_not_allowed")
    assert_error(client.get("/nope"), 404, "not_found")


def _garbage_payloads(media: Media) -> list[bytes]:
    rng = random.Random(0)
    prefixes = [
        b"\x89PNG\r\n\x1a\n",
        b"\xff\xd8\xff\xe0",
        b"GIF89a",
        b"BM" + b"\0" * 24,
        b"RIFF\x10\0\0\0WEBPVP8 ",
        b"II*\x00",
        b"MM\x00*",
        b"RIFF\x24\0\0\0WAVEfmt ",
        b"RIFX\0\0\0\x24WAVEfmt ",
        b"",
    ]
    payloads = [p + bytes(rng.getrandbits(8) for _ in range(n)) for p in prefixes for n in (0, 3, 40, 3000)]
    png = bytearray(media.pngs[3])
    png[40] ^= 0xFF  # a flipped bit inside IDAT: bad CRC / bad zlib
    payloads.append(bytes(png))
    wav = bytearray(media.wavs[3])
    wav[22:24] = struct.pack("<H", 0)  # zero channels
    payloads.append(bytes(wav))
    wav = bytearray(media.wavs[3])
    wav[24:28] = struct.pack("<I", 1)  # 1 Hz sample rate
    payloads.append(bytes(wav))
    wav = bytearray(media.wavs[3])
    wav[20:22] = struct.pack("<H", 0x55)  # MP3 inside WAV
    payloads.append(bytes(wav))
    tiny = io.BytesIO()
    Image.fromarray(np.full((1, 1), 200, np.uint8)).save(tiny, format="PNG")
    payloads.append(tiny.getvalue())
    for fmt in ("JPEG", "GIF", "BMP", "TIFF", "WEBP"):
        out = io.BytesIO()
        Image.fromarray(np.full((3, 2000), 128, np.uint8)).save(out, format=fmt)
        payloads.append(out.getvalue()[: len(out.getvalue()) // 2])  # truncated
    return payloads


def test_no_client_input_produces_a_500(client: TestClient, media: Media) -> None:
    statuses = set()
    for i, payload in enumerate(_garbage_payloads(media)):
        for path in ("/search", "/search/image", "/search/audio"):
            r = post_file(client, payload, path=path)
            assert 400 <= r.status_code < 500 or r.status_code == 200, (i, path, r.status_code, r.text)
            statuses.add(r.status_code)
    r = client.post(
        "/search/batch", files=[("files", (f"{i}", p)) for i, p in enumerate(_garbage_payloads(media)[:4])]
    )
    assert r.status_code == 200
    assert {400, 415} <= statuses


def test_each_media_error_has_its_http_status() -> None:
    """models raises typed errors; the service alone decides their status (a subclass inherits)."""

    class OddWav(CorruptMediaError):
        code = "odd_wav"

    assert media_status(MediaError("x")) == 400
    assert media_status(CorruptMediaError("x")) == 400
    assert media_status(OddWav("x")) == 400
    assert media_status(UnsupportedMediaError("x")) == 415
    assert media_status(MediaTooLargeError("x")) == 413


def test_each_search_error_has_its_http_status_code_and_retry_after() -> None:
    """The search raises errors in its own words; one table says what each is in HTTP."""

    class GoneItem(ItemNotFound):
        pass

    item = UUID(int=7)
    cases = [
        (ItemNotFound(item), (404, "not_found", None)),
        (GoneItem(item), (404, "not_found", None)),
        (MapUnavailable("no map to draw yet"), (503, "map_unavailable", {"Retry-After": "5"})),
        (
            HeavyLaneFull("4 large uploads are already being prepared"),
            (503, "overloaded", {"Retry-After": "1"}),
        ),
    ]
    for exc, expected in cases:
        err = search_error(exc)
        assert (err.status, err.code, err.headers) == expected, type(exc)
        assert err.message == exc.message
    assert search_error(ItemNotFound(item)).message == f"no indexed item with id {item}"


def test_every_search_error_is_in_the_table() -> None:
    defined = {
        obj
        for obj in vars(search_errors).values()
        if isinstance(obj, type) and issubclass(obj, SearchError) and obj is not SearchError
    }
    assert defined == set(SEARCH_ERRORS)


def test_search_errors_leave_as_the_json_error_body() -> None:
    app = FastAPI()
    install_error_handlers(app)
    item = UUID(int=1)

    @app.get("/item")
    async def missing_item() -> None:
        raise ItemNotFound(item)

    @app.get("/map")
    async def no_map() -> None:
        raise MapUnavailable("no map to draw yet: the index holds 0 items of model version abc")

    with TestClient(app) as c:
        r = c.get("/item")
        assert r.status_code == 404
        assert r.json() == {"error": {"code": "not_found", "message": f"no indexed item with id {item}"}}
        r = c.get("/map")
        assert r.status_code == 503 and r.headers["retry-after"] == "5"
        assert r.json() == {
            "error": {
                "code": "map_unavailable",
                "message": "no map to draw yet: the index holds 0 items of model version abc",
            }
        }
