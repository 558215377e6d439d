"""Back-pressure through a real server (the rules themselves: test_search_admission.py).

Beyond MAX_SEARCHES_IN_FLIGHT a search is answered 503 + Retry-After at once; uploads still
arriving hold no search slot, so slow clients cannot starve the others, and are cut off
below UPLOAD_MIN_BYTES_PER_S; upload bytes in memory stay within MAX_UPLOAD_BYTES_HELD.
"""

import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable

import httpx

from service.settings import ServiceSettings
from store import object_uuid
from tests.hostile.costly import gradient_16bit_png
from tests.media import sine_wav
from tests.service.helpers import LiveServer, Media, live_server_for, wait_for

SLOW_HEAD = (
    b"POST /search HTTP/1.1\r\nHost: test\r\n"
    b"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n"
)


def rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_searches_beyond_the_limit_get_503_at_once(small_index: ServiceSettings, media: Media) -> None:
    """A batch of four large 16-bit pictures keeps the only slot busy in the heavy preprocessing
    lane; meanwhile every kind of search is refused at once, and the rest of the API answers."""
    settings = small_index.model_copy(
        update={"max_searches_in_flight": 1, "max_upload_bytes": 1_000_000, "preprocess_cpu_s": 30.0}
    )
    upload = {"file": ("a.png", media.pngs[0])}
    heavy = [("files", (f"{i}.png", gradient_16bit_png(6000, 6000))) for i in range(4)]
    item = f"/items/{object_uuid('mnist', 'test', '0')}"
    with live_server_for(settings) as server, httpx.Client(base_url=server.url, timeout=60) as http:
        assert http.post("/search", files=upload).status_code == 200
        busy = hold_the_slot(
            http, heavy, refused=lambda: http.post("/search", files=upload).status_code == 503
        )
        answers = [
            http.post("/search", files=upload),
            http.post("/search/audio", files={"file": ("a.wav", media.wavs[0])}),
            http.post("/search/batch", files=[("files", ("a.png", media.pngs[0]))]),
            http.post("/map/project", files=upload),
            http.get(f"{item}/similar"),
        ]
        others = [http.get("/healthz"), http.get("/readyz"), http.get(item)]
        still_busy = busy.is_alive()
        busy.join()
        assert still_busy, "the heavy batch ended before the refusals were checked: nothing was shown"
        for r in answers:
            assert r.status_code == 503, r.text
            assert r.json()["error"]["code"] == "overloaded"
            assert "MAX_SEARCHES_IN_FLIGHT" in r.json()["error"]["message"]
            assert int(r.headers["retry-after"]) > 0
        assert [r.status_code for r in others] == [200, 200, 200]
        wait_for(lambda: http.post("/search", files=upload).status_code == 200, 10, "the slot to free up")


def hold_the_slot(
    http: httpx.Client, heavy: list[tuple[str, tuple[str, bytes]]], refused: Callable[[], bool]
) -> threading.Thread:
    """A heavy batch holding the only slot: started, then confirmed by a refused search. When
    the probe won the race for the slot instead (the batch was refused), try again."""
    deadline = time.monotonic() + 60
    while True:
        busy = threading.Thread(target=lambda: http.post("/search/batch", files=heavy))
        busy.start()
        while busy.is_alive():
            if refused() and busy.is_alive():
                return busy
        assert time.monotonic() < deadline, "the heavy batch never held the slot"


def open_slow_upload(server: LiveServer) -> socket.socket:
    sock = socket.create_connection((server.host, server.port), timeout=30)
    sock.sendall(SLOW_HEAD + b'--b\r\nContent-Disposition: form-data; name="file"; filename="s.png"\r\n\r\n')
    return sock


def test_slow_uploads_hold_no_search_slot_and_are_cut_off(small_index: ServiceSettings, media: Media) -> None:
    """64 connections that send headers and then a byte a second (as many as there are search
    slots): ordinary searches are answered throughout, and each slow one gets 408."""
    settings = small_index.model_copy(update={"upload_grace_s": 1.0, "upload_min_bytes_per_s": 1024.0})
    with live_server_for(settings) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        slow = [open_slow_upload(server) for _ in range(settings.max_searches_in_flight)]
        statuses: Counter[int] = Counter()
        started = time.monotonic()
        while time.monotonic() - started < 3.0:
            for sock in slow:
                try:
                    sock.send(b"\x00")
                except OSError:
                    pass  # already cut off
            for _ in range(5):
                statuses[http.post("/search", files={"file": ("a.png", media.pngs[0])}).status_code] += 1
        replies = []
        for sock in slow:
            replies.append(sock.recv(65_536))
            sock.close()
        assert statuses == Counter({200: sum(statuses.values())}), statuses
        assert sum(statuses.values()) >= 10
        assert all(r.startswith(b"HTTP/1.1 408") and b"upload_too_slow" in r for r in replies), replies[0][
            :300
        ]


def test_upload_memory_stays_within_its_budget(small_index: ServiceSettings) -> None:
    """64 uploads of 10 MiB at once: past MAX_UPLOAD_BYTES_HELD they are refused with 503
    instead of being held, and the server's memory grows by about the budget, not 640 MiB."""
    budget = 64 * 2**20
    settings = small_index.model_copy(
        update={"max_upload_bytes": 10 * 2**20 + 1024, "max_upload_bytes_held": budget}
    )
    body = sine_wav(11.0, rate=192_000)[: 10 * 2**20]  # 10 MiB: read whole, then refused as too long
    with live_server_for(settings) as server:
        before, peak, done = rss_mb(), [0.0], threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], rss_mb())
                time.sleep(0.01)

        answers: list[int] = []
        form = (
            b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.wav"\r\n\r\n'
            + body
            + b"\r\n--b--\r\n"
        )
        head = SLOW_HEAD.replace(b"100000", str(len(form)).encode())
        all_sent = threading.Barrier(64, timeout=60)

        def upload() -> None:
            # every upload is in flight at once: all but its last bytes sent before any finishes
            with socket.create_connection((server.host, server.port), timeout=60) as sock:
                try:
                    sock.sendall(head)
                    sock.sendall(memoryview(form)[:-16])  # a view: the test holds one copy of the body
                except OSError:
                    pass  # refused (and closed) before it was all sent
                all_sent.wait()
                try:
                    sock.sendall(memoryview(form)[-16:])
                except OSError:
                    pass
                answers.append(int(sock.recv(65_536).split(b" ", 2)[1]))

        sampler = threading.Thread(target=sample)
        sampler.start()
        senders = [threading.Thread(target=upload) for _ in range(64)]
        for thread in senders:
            thread.start()
        for thread in senders:
            thread.join()
        done.set()
        sampler.join()
    counts = Counter(answers)
    assert set(counts) <= {400, 503} and counts[503] > 0 and len(answers) == 64, counts
    grew = peak[0] - before
    assert grew < 4 * budget / 2**20, f"RSS grew {grew:.0f} MB for 64 x 10 MiB uploads (budget 64 MiB)"
