"""The api containers get the service's own API key and CORS origins, and their healthcheck
still passes when a key is set.

The healthcheck runs inside the container (Docker execs it with the container's
environment), so it can send API_KEY the way any client does; /readyz stays behind the key
(service/middleware/security.py says why).
"""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .specs import container_env, load_compose

FILES = ["docker-compose.yml", "docker-compose.cluster.yml"]
ENV = {"WEAVIATE_API_KEY": "test-key-0123456789"}
SERVICE_KEY = "service-key-5b1e"
ORIGINS = "https://search.example,https://other.example"


def apis(name: str, env: dict[str, str]) -> dict[str, Any]:
    services = load_compose(name, env)["services"]
    return {k: s for k, s in services.items() if s.get("command") == ["python", "-m", "launcher"]}


def service_settings(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    from service.settings import ServiceSettings

    for key in ("API_KEY", "CORS_ORIGINS", "READ_ONLY", "MAX_USER_ITEMS"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return ServiceSettings(_env_file=None)


@pytest.mark.parametrize("name", FILES)
def test_api_gets_the_service_key_and_cors_origins(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    keyed = apis(name, {**ENV, "API_KEY": SERVICE_KEY, "CORS_ORIGINS": ORIGINS})
    assert keyed
    for svc_name, svc in keyed.items():
        env = container_env(svc)
        assert env["API_KEY"] == SERVICE_KEY and env["CORS_ORIGINS"] == ORIGINS, svc_name
        settings = service_settings(env, monkeypatch)
        assert settings.api_key is not None and settings.api_key.get_secret_value() == SERVICE_KEY
        assert settings.cors_allow_list == ORIGINS.split(",")


@pytest.mark.parametrize("name", FILES)
def test_unset_key_and_origins_stay_unset(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for svc_name, svc in apis(name, ENV).items():
        env = container_env(svc)
        assert env.get("API_KEY", "") == "" and env.get("CORS_ORIGINS", "") == "", svc_name
        settings = service_settings(env, monkeypatch)
        assert settings.api_key is None and settings.cors_allow_list == [], svc_name


@pytest.mark.parametrize("name", FILES)
def test_api_gets_the_user_item_settings(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """READ_ONLY and MAX_USER_ITEMS reach every api container; unset, they keep the defaults."""
    for env_in, read_only, cap in (
        ({}, False, 1000),
        ({"READ_ONLY": "true", "MAX_USER_ITEMS": "25"}, True, 25),
    ):
        served = apis(name, {**ENV, **env_in})
        assert served
        for svc_name, svc in served.items():
            settings = service_settings(container_env(svc), monkeypatch)
            assert (settings.read_only, settings.max_user_items) == (read_only, cap), svc_name


@pytest.mark.parametrize("name", FILES)
def test_only_the_api_gets_the_service_key(name: str) -> None:
    services = load_compose(name, {**ENV, "API_KEY": SERVICE_KEY})["services"]
    holders = {k for k, s in services.items() if SERVICE_KEY in container_env(s).values()}
    assert holders == set(apis(name, ENV))


class _Ready(http.server.BaseHTTPRequestHandler):
    key: str | None = None  # the key the fake /readyz wants, None: open

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        wanted = type(self).key
        allowed = wanted is None or self.headers.get("X-API-Key") == wanted
        self.send_response(404 if self.path != "/readyz" else 200 if allowed else 401)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def ready_server() -> Iterator[int]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Ready)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        _Ready.key = None


def run_healthcheck(test: list[str], port: int, container: dict[str, str]) -> int:
    """An exec-form healthcheck as Docker runs it: the container's environment, its `python`."""
    assert test[:2] == ["CMD", "python"], test
    env = {**container, "PORT": str(port), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    return subprocess.run([sys.executable, *test[2:]], env=env, capture_output=True, timeout=30).returncode


@pytest.mark.parametrize("name", FILES)
def test_api_healthcheck_sends_the_containers_key(name: str, ready_server: int) -> None:
    for svc_name, svc in apis(name, {**ENV, "API_KEY": SERVICE_KEY}).items():
        test = svc["healthcheck"]["test"]
        _Ready.key = SERVICE_KEY
        assert run_healthcheck(test, ready_server, container_env(svc)) == 0, svc_name
        _Ready.key = "another-key"  # a 401 is unhealthy, never ignored
        assert run_healthcheck(test, ready_server, container_env(svc)) == 1, svc_name
    for svc_name, svc in apis(name, ENV).items():  # no key set: nothing to send
        _Ready.key = None
        assert run_healthcheck(svc["healthcheck"]["test"], ready_server, container_env(svc)) == 0, svc_name
