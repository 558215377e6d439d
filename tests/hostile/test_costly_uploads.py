"""The costly-input corpus (tests/hostile/costly.py) through real HTTP, each upload while a
stream of ordinary searches runs: every one is answered with its documented status (never
a 5xx), unevenly lit photos of real digits find their digit, and the ordinary searches all
succeed meanwhile. Each costly upload is bounded by PREPROCESS_CPU_S (a configured limit,
asserted through the error it raises, not by timing this machine)."""

import threading
from collections import Counter
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from models.data import load_mnist
from service.settings import ServiceSettings
from tests.hostile.costly import Costly, costly_corpus, stroke_on_gradient
from tests.service.helpers import REPO_CHECKPOINT, LiveServer, Media, live_server_for

PHOTOS = 6


@pytest.fixture(scope="module")
def corpus(small_index: ServiceSettings) -> list[Costly]:
    images, labels = load_mnist(small_index.data_dir, train=False)
    digits = [images[i].astype(np.float32) / 255.0 for i in range(PHOTOS)]
    return costly_corpus(digits, [int(labels[i]) for i in range(PHOTOS)])


def test_the_corpus_covers_every_costly_kind(corpus: list[Costly]) -> None:
    names = " ".join(c.name for c in corpus)
    for kind in ("16bit", "float", "int32", "bilevel", "gif", "3e38", "denormal", "192khz", "lit-photo"):
        assert kind in names, kind
    assert all(len(c.data) <= 10 * 2**20 for c in corpus)


@pytest.fixture(scope="module")
def full_size_server(small_index: ServiceSettings) -> Iterator[LiveServer]:
    """The small index served with the default upload limit (the session's is 300 kB)."""
    with live_server_for(small_index.model_copy(update={"max_upload_bytes": 10 * 2**20})) as server:
        yield server


def test_costly_uploads_are_answered_while_ordinary_searches_go_on(
    full_size_server: LiveServer, media: Media, corpus: list[Costly]
) -> None:
    live_server = full_size_server
    ordinary: Counter[int] = Counter()
    ordinary_s: list[float] = []
    costly_s: dict[str, tuple[int, float]] = {}
    stop = threading.Event()

    def ordinary_stream() -> None:
        with httpx.Client(base_url=live_server.url, timeout=60) as http:
            while not stop.is_set():
                r = http.post("/search", files={"file": ("d.png", media.pngs[1])})
                ordinary[r.status_code] += 1
                ordinary_s.append(r.elapsed.total_seconds())

    stream = threading.Thread(target=ordinary_stream)
    stream.start()
    try:
        with httpx.Client(base_url=live_server.url, timeout=60) as http:
            for case in corpus:
                r = http.post("/search", files={"file": (case.name, case.data)})
                costly_s[case.name] = (r.status_code, r.elapsed.total_seconds())
                assert r.status_code < 500, (case.name, r.text[:300])
                if case.status is not None:
                    assert r.status_code == case.status, (case.name, r.text[:300])
                if r.status_code != 200:
                    assert r.json()["error"]["code"] == (case.code or r.json()["error"]["code"]), case.name
                    continue
                assert r.json()["results"], case.name
                if case.label is not None and REPO_CHECKPOINT.is_file():  # the trained model
                    assert r.json()["query"]["predicted_label"] == case.label, case.name
    finally:
        stop.set()
        stream.join()
    assert ordinary[200] >= 5 and set(ordinary) == {200}, ordinary
    print(f"\n{'upload':36} status  seconds (RELIABILITY.md)")
    for name, (status, seconds) in costly_s.items():
        print(f"{name:36} {status}  {seconds:.3f}")
    print(f"ordinary searches meanwhile: {len(ordinary_s)}, slowest {max(ordinary_s):.3f} s")


def test_an_upload_past_the_cpu_budget_is_refused_as_too_complex(small_index: ServiceSettings) -> None:
    settings = small_index.model_copy(update={"preprocess_cpu_s": 1e-6})
    with live_server_for(settings) as server, httpx.Client(base_url=server.url, timeout=60) as http:
        r = http.post("/search", files={"file": ("lit.png", stroke_on_gradient(1024))})
        assert r.status_code == 422 and r.json()["error"]["code"] == "too_complex", r.text
        assert "s of CPU" in r.json()["error"]["message"]
        batch = http.post("/search/batch", files=[("files", ("lit.png", stroke_on_gradient(1024)))])
        assert batch.json()["results"][0]["status"] == 422
