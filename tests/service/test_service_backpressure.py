"""Back-pressure: beyond MAX_SEARCHES_IN_FLIGHT, a search is answered 503 + Retry-After at once."""

import select
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx

from indexer.store import object_uuid
from service.settings import ServiceSettings
from tests.service.helpers import LiveServer, Media, live_server_for, wait_for

STALLED_SEARCH = (
    b"POST /search HTTP/1.1\r\nHost: test\r\n"
    b"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n"
    b'--b\r\nContent-Disposition: form-data; name="file"; filename="slow.png"\r\n\r\n\x89PNG'
)


def answered(sock: socket.socket) -> bool:
    return bool(select.select([sock], [], [], 0)[0])


@contextmanager
def search_in_flight(server: LiveServer, refused: Callable[[], bool]) -> Iterator[None]:
    """A search whose upload has begun and never ends: it holds the one slot until we hang up.

    `refused()` sends another search and says whether it was turned away; when the stalled
    one got no answer and the other was refused, the stalled one holds the slot (if the two
    raced for it the other way round, try again).
    """
    deadline = time.monotonic() + 20
    while True:
        sock = socket.create_connection((server.host, server.port), timeout=10)
        sock.sendall(STALLED_SEARCH)
        if not answered(sock) and refused() and not answered(sock):
            break
        sock.close()
        assert time.monotonic() < deadline, "no stalled search ever held the slot"
        time.sleep(0.1)
    try:
        yield
    finally:
        sock.close()


def test_searches_beyond_the_limit_get_503_at_once(small_index: ServiceSettings, media: Media) -> None:
    settings = small_index.model_copy(update={"max_searches_in_flight": 1})
    upload = {"file": ("a.png", media.pngs[0])}
    item = f"/items/{object_uuid('mnist', 'test', '0')}"
    with live_server_for(settings) as server, httpx.Client(base_url=server.url, timeout=30) as http:

        def refused() -> bool:
            return http.post("/search", files=upload).status_code == 503

        assert http.post("/search", files=upload).status_code == 200  # a slot frees when a search ends
        with search_in_flight(server, refused):
            for r in (
                http.post("/search", files=upload),
                http.post("/search/audio", files={"file": ("a.wav", media.wavs[0])}),
                http.post("/search/batch", files=[("files", ("a.png", media.pngs[0]))]),
                http.get(f"{item}/similar"),
            ):
                assert r.status_code == 503, r.text
                assert r.json()["error"]["code"] == "overloaded"
                assert "MAX_SEARCHES_IN_FLIGHT" in r.json()["error"]["message"]
                assert int(r.headers["retry-after"]) > 0
            # Everything that is not a search keeps answering.
            assert http.get("/healthz").status_code == 200
            assert http.get("/readyz").status_code == 200
            assert http.get(item).status_code == 200
        # The stalled client hung up: its slot is free again.
        wait_for(lambda: http.post("/search", files=upload).status_code == 200, 10, "the slot to free up")
        assert http.get(f"{item}/similar").status_code == 200
