"""The image's HEALTHCHECK: it probes /healthz with the image's own Python (no curl), and passes
on 200 only (read statically from the Dockerfile; the probe runs against a local server)."""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from .specs import (
    parse_dockerfile,
)

DOCKERFILE = parse_dockerfile()


def healthcheck_command() -> list[str]:
    """The HEALTHCHECK's command, in exec (JSON) form: no shell in between."""
    (hc,) = DOCKERFILE.final.all("HEALTHCHECK")
    _, _, command = hc.args.partition(" CMD ")
    return json.loads(command)


class _Probe(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def probe_server() -> Iterator[http.server.HTTPServer]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Probe)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def run_healthcheck(port: int) -> int:
    # `python` in the image is the venv's; here it is this interpreter.
    env = {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "PORT": str(port)}
    return subprocess.run(healthcheck_command(), env=env, timeout=30, capture_output=True).returncode


def test_healthcheck_probes_healthz_without_curl() -> None:
    command = " ".join(healthcheck_command())
    assert "/healthz" in command and "curl" not in command and "wget" not in command


def test_healthcheck_passes_on_200_and_fails_otherwise(probe_server: http.server.HTTPServer) -> None:
    port = probe_server.server_address[1]
    assert run_healthcheck(port) == 0
    _Probe.status = 503
    try:
        assert run_healthcheck(port) == 1
    finally:
        _Probe.status = 200
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    assert run_healthcheck(closed) == 1  # Docker: 0 healthy, 1 unhealthy
