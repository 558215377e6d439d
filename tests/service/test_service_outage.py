"""Readiness and errors follow Weaviate going away and coming back (a throwaway server)."""

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import store
from service.main import create_app
from service.search.store_gateway import COOL_DOWN_S, FAIL_FAST_S
from tests.service.helpers import Media, build_index, settings_for, wait_for
from tests.weaviate_server import embedded_settings


class Throwaway:
    """An embedded Weaviate of our own on free ports, that the test can stop and restart."""

    def __init__(self, data_dir: Path) -> None:
        # A known API key: the service reaches this server by URL, as it would a remote one.
        self.settings = embedded_settings(data_dir, weaviate_api_key="outage-test-key")
        self.holders: list = []

    def start(self) -> None:
        """Start the server (its ports are free) and wait until a client gets through."""
        for attempt in range(5):
            try:
                self.holders.append(store.connect(self.settings))
                return
            except store.StoreUnavailable:  # a restart reloads its shards before gRPC answers
                if attempt == 4:
                    raise
                time.sleep(2)

    def pid(self) -> int:
        return int((self.settings.weaviate_data_dir / ".server.pid").read_text())

    def kill(self) -> None:
        pid = self.pid()
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)  # it is our child: reap it

    def close(self) -> None:
        for holder in self.holders:
            holder.close()  # the last one stops the server


@pytest.fixture
def throwaway(tmp_path: Path) -> Iterator[Throwaway]:
    server = Throwaway(tmp_path / "weaviate")
    yield server
    server.close()


@pytest.mark.slow
def test_readiness_and_503_follow_weaviate(
    throwaway: Throwaway, service_checkpoint: Path, media: Media
) -> None:
    url = f"http://127.0.0.1:{throwaway.settings.weaviate_port}"
    settings = settings_for(
        throwaway.settings,
        weaviate_url=url,
        weaviate_timeout_s=2.0,
        collection="Outage",
        checkpoint=service_checkpoint,
        device="cpu",
    )
    upload = {"file": ("a.png", media.pngs[0])}
    with TestClient(create_app(settings)) as c:
        # 1. The service starts although Weaviate is not there yet: alive, not ready, 503s.
        assert c.get("/healthz").status_code == 200
        r = c.get("/readyz")
        assert r.status_code == 503 and not r.json()["checks"]["weaviate"]
        assert "unreachable" in r.json()["reasons"][0] or "Weaviate" in r.json()["reasons"][0]
        r = c.post("/search", files=upload)
        assert r.status_code == 503 and int(r.headers["retry-after"]) > 0
        assert r.json()["error"]["code"] == "weaviate_unavailable"

        # 2. Weaviate comes up but holds no index: still 503, with that reason.
        throwaway.start()
        wait_for(lambda: c.get("/readyz").json()["checks"]["weaviate"], 30, "the service to reconnect")
        r = c.get("/readyz")
        assert r.status_code == 503 and "does not exist" in " ".join(r.json()["reasons"])
        assert c.post("/search", files=upload).status_code == 503

        # 3. Indexed: ready, searches work.
        build_index(settings, "Outage", service_checkpoint, limit=30)
        assert c.get("/readyz").status_code == 200
        assert c.post("/search", files=upload).status_code == 200

        # 4. Weaviate stops (connections refused): every request is a 503 + Retry-After within
        #    FAIL_FAST_S, the first one, those in the cool-down and those after it; never a hang.
        throwaway.kill()
        for moment in ("first", "in the cool-down", "after the cool-down"):
            if moment == "after the cool-down":
                time.sleep(COOL_DOWN_S + 0.5)
            start = time.monotonic()
            r = c.post("/search", files=upload)
            took = time.monotonic() - start
            assert r.status_code == 503 and int(r.headers["retry-after"]) > 0, (moment, r.text)
            assert r.json()["error"]["code"] == "weaviate_unavailable"
            assert took < FAIL_FAST_S, (moment, took)
        start = time.monotonic()
        r = c.get("/readyz")
        assert r.status_code == 503 and "refuses connections" in " ".join(r.json()["reasons"]), r.text
        assert time.monotonic() - start < FAIL_FAST_S
        assert c.get("/healthz").status_code == 200

        # 5. It comes back (same data): ready again without restarting the service.
        throwaway.start()
        wait_for(lambda: c.get("/readyz").status_code == 200, 60, "readyz to recover")
        wait_for(lambda: c.post("/search", files=upload).status_code == 200, 60, "search to recover")

        # 6. It hangs (SIGSTOP): requests end in a bounded time with 503, then recover.
        pid = throwaway.pid()
        os.kill(pid, signal.SIGSTOP)
        try:
            start = time.monotonic()
            r = c.post("/search", files=upload)
            assert r.status_code == 503, r.text
            assert time.monotonic() - start < 30
            assert c.get("/readyz").status_code == 503
        finally:
            os.kill(pid, signal.SIGCONT)
        wait_for(
            lambda: c.post("/search", files=upload).status_code == 200, 60, "search to recover after SIGCONT"
        )
