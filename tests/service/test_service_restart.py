"""The service restarted under load: `python -m launcher` (what `make run` and the
image run) on its own embedded Weaviate gets SIGTERM while clients are searching. Every
request it had taken either completes with 200 or gets a clean 503 (no 500, no connection
dropped mid-answer); it exits within its graceful timeout; started again it is ready with the
same index; no process it started is left behind."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

import store
from launcher import run
from models.data import fsdd_items, load_mnist, mnist_png
from service.settings import ServiceSettings
from store.embedded import server
from tests.service.helpers import build_index, wait_for
from tests.weaviate_server import embedded_settings, env_for, free_port

COLLECTION = "Restart"
LIMIT = 100  # per source: 100 MNIST images + 100 FSDD clips
CLIENTS = 6
Upload = tuple[str, bytes]
START_WITHIN_S = 120.0  # a start loads the checkpoint and opens (or starts) Weaviate
GONE_WITHIN_S = 30.0  # the server is gone (or back) within 30 s


@dataclass(frozen=True)
class Outcome:
    request_id: str  # sent as X-Request-ID: the service logs it for every request it took
    sent: float  # when the whole request had been written (inf: never)
    ended: float
    result: str  # the status code; "no answer" (failed before any response byte); "cut off" (after)
    detail: str = ""  # the exception, if any

    @property
    def answered(self) -> bool:
        return self.result.isdigit()


def taken(log: Path) -> dict[str, int]:
    """request id -> status, of every request the service took: its middleware logs one line
    per request it started, also one cancelled or failed before answering (as 500)."""
    found = {}
    for line in log.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and "request_id" in entry:
            found[entry["request_id"]] = int(entry["status"])
    return found


def processes_of(data_dir: Path, port: int) -> list[str]:
    """Processes (other than this one) that belong to the test's service: their command line
    names the Weaviate port or their environment / working folder the data folder."""
    marker = str(data_dir).encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            environ = (proc / "environ").read_bytes()
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue  # gone meanwhile, or not ours to read
        if str(port).encode() in argv or marker in environ or cwd.startswith(str(data_dir)):
            found.append(f"{proc.name}: {b' '.join(argv).decode(errors='replace')[:200]}")
    return found


def graceful_timeout_s() -> float:
    """The graceful-shutdown timeout the launcher gives uvicorn (read from its call, not copied)."""
    seen: dict[str, object] = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(run.uvicorn, "run", lambda *args, **kwargs: seen.update(kwargs))
        run.serve(ServiceSettings())
    timeout = seen["timeout_graceful_shutdown"]
    assert isinstance(timeout, int | float) and timeout > 0
    return float(timeout)


@contextmanager
def service(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "launcher"], env=env, stdout=out, stderr=out)
    try:
        yield proc
    finally:
        if proc.poll() is None:  # the test failed before stopping it
            proc.kill()
            proc.wait()


def ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def search_once(http: httpx.Client, path: str, files: list[tuple[str, Upload]], request_id: str) -> Outcome:
    """One request on a connection of its own, traced: when was it fully sent, and did any of
    the answer arrive before a failure (a connection cut mid-answer) or none of it."""
    sent = [math.inf]

    def trace(event: str, info: object) -> None:
        if event == "http11.send_request_body.complete":
            sent[0] = time.monotonic()

    headers_arrived = False
    try:
        headers = {"x-request-id": request_id}
        with http.stream("POST", path, files=files, headers=headers, extensions={"trace": trace}) as r:
            headers_arrived = True
            r.read()
        result = str(r.status_code)
        if r.status_code == 503 and not (r.headers.get("retry-after") and r.json()["error"]):
            result = "503 without Retry-After"
        return Outcome(request_id, sent[0], time.monotonic(), result)
    except httpx.HTTPError as exc:
        failed = "cut off" if headers_arrived else "no answer"
        return Outcome(request_id, sent[0], time.monotonic(), failed, repr(exc))


def load(base: str, uploads: list[Upload], stop: threading.Event, outcomes: list[Outcome]) -> None:
    """Search until told to stop, one connection per request (so that each request's fate is
    its own): every third request a batch of an image and a clip, a longer one to interrupt."""
    with httpx.Client(base_url=base, timeout=60, limits=httpx.Limits(max_keepalive_connections=0)) as http:
        i = 0
        while not stop.is_set():
            n = 2 if i % 3 == 2 else 1
            path = "/search/batch" if n == 2 else "/search"
            files = [("file", uploads[(i + j) % len(uploads)]) for j in range(n)]
            outcome = search_once(http, path, files, f"restart-{threading.get_ident()}-{i}")
            outcomes.append(outcome)
            if not outcome.answered:
                time.sleep(0.05)  # the service is going away: do not spin
            i += 1


@pytest.mark.slow
def test_sigterm_under_load_drops_nothing_and_the_index_survives(
    tmp_path: Path, service_checkpoint: Path
) -> None:
    graceful_s = graceful_timeout_s()
    data_dir = (tmp_path / "weaviate").resolve()
    settings = embedded_settings(data_dir, collection=COLLECTION, checkpoint=service_checkpoint)
    build_index(settings, COLLECTION, service_checkpoint, limit=LIMIT)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = env_for(settings, HOST="127.0.0.1", PORT=str(port), LOG_LEVEL="info")
    log = tmp_path / "service.log"

    images, _ = load_mnist(settings.data_dir, train=False)
    wavs = [c.path.read_bytes() for c in fsdd_items(settings.data_dir, "validation")[:4]]
    pngs = [mnist_png(images[i]) for i in range(4)]
    uploads: list[Upload] = [u for i in range(4) for u in ((f"{i}.png", pngs[i]), (f"{i}.wav", wavs[i]))]

    with service(env, log) as proc:
        wait_for(lambda: ready(base) or proc.poll() is not None, START_WITHIN_S, "the service to be ready")
        assert proc.poll() is None, log.read_text()[-3000:]
        before = httpx.get(f"{base}/stats", timeout=30).json()
        assert before["total"] == 2 * LIMIT

        stop, outcomes = threading.Event(), []
        clients = [
            threading.Thread(target=load, args=(base, uploads, stop, outcomes), daemon=True)
            for _ in range(CLIENTS)
        ]
        for t in clients:
            t.start()
        wait_for(lambda: sum(o.result == "200" for o in outcomes) >= 30, 120, "searches under load")
        proc.send_signal(signal.SIGTERM)
        term = time.monotonic()
        code = proc.wait(graceful_s)
        exit_s = time.monotonic() - term
        stop.set()
        for t in clients:
            t.join(70)
        # a clean exit: the client closed, the embedded server stopped as a clean stop
        assert code == 0, log.read_text()[-3000:]
        assert not server.server_died(settings), "a SIGTERM stop must not look like a crash"

    # Every request the service took (its log names it) got its whole answer: a 200 or a clean
    # 503, the status it logged. It took requests until SIGTERM and finished those in flight;
    # any it did not take found its listener closed (refused, or closed before uvicorn read the
    # request), never before SIGTERM, and no answer was ever cut off.
    took = taken(log)
    counts = Counter(o.result for o in outcomes)
    for o in outcomes:
        if o.request_id in took:
            assert o.result == str(took[o.request_id]) and o.result in ("200", "503"), o
        else:
            assert o.result == "no answer" and o.ended > term, o
    in_flight = [o for o in outcomes if o.request_id in took and o.sent < term < o.ended]
    assert in_flight, "no request was in flight at SIGTERM: the test proved nothing"
    not_taken_sent_before = sum(o.request_id not in took and o.sent < term for o in outcomes)

    # Nothing it started is left behind: no Weaviate server, no helper process.
    wait_for(lambda: not processes_of(data_dir, settings.weaviate_port), GONE_WITHIN_S, "no orphan")

    # Started again: ready, with the same index.
    with service(env, log) as proc:
        t = time.monotonic()
        wait_for(lambda: ready(base) or proc.poll() is not None, START_WITHIN_S, "the restarted service")
        assert proc.poll() is None, log.read_text()[-3000:]
        ready_again_s = time.monotonic() - t
        after = httpx.get(f"{base}/stats", timeout=30).json()
        assert (after["total"], after["counts"]) == (before["total"], before["counts"])
        assert after["indexed_model_versions"] == before["indexed_model_versions"]
        r = httpx.post(f"{base}/search", files={"file": uploads[0]}, timeout=30)
        assert r.status_code == 200 and len(r.json()["results"]) == 5, r.text
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(graceful_s) == 0, log.read_text()[-3000:]
    wait_for(lambda: not processes_of(data_dir, settings.weaviate_port), GONE_WITHIN_S, "no orphan")
    assert store.server_pid(settings) is None
    print(
        f"\n{len(outcomes)} requests by {CLIENTS} clients: {dict(counts)}; {len(in_flight)} in flight at "
        f"SIGTERM ({dict(Counter(o.result for o in in_flight))}), {not_taken_sent_before} sent before it "
        f"but closed unread; exited {exit_s:.1f}s after SIGTERM "
        f"(code {code}); ready again {ready_again_s:.1f}s after the second start"
    )
