"""The compose files as `docker compose config` resolves them, and the questions tests ask of them."""

from __future__ import annotations

import tomllib
from typing import Any

from store import WEAVIATE_VERSION

from .specs import ROOT, load_compose

SINGLE = "docker-compose.yml"
CLUSTER = "docker-compose.cluster.yml"
FILES = [SINGLE, CLUSTER]
ENV = {"WEAVIATE_API_KEY": "test-key-0123456789"}  # the one variable a user must set
WEAVIATE_IMAGE = f"cr.weaviate.io/semitechnologies/weaviate:{WEAVIATE_VERSION}"
PROJECT_VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def services(name: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    return load_compose(name, ENV if env is None else env)["services"]


def weaviate_nodes(name: str) -> dict[str, Any]:
    return {k: s for k, s in services(name).items() if s["image"].startswith("cr.weaviate.io/")}


def app_services(name: str) -> dict[str, Any]:
    return {k: s for k, s in services(name).items() if "build" in s}


def is_indexer(service: dict[str, Any]) -> bool:
    return service["command"] == ["python", "-m", "indexer"]


def published(host_port: str) -> dict[str, Any]:
    """How compose writes the short form "<host_port>:8000": every host interface, TCP."""
    return {"mode": "ingress", "target": 8000, "published": host_port, "protocol": "tcp"}


def bind_mount(source: str, target: str) -> dict[str, Any]:
    """How compose writes the short form "<source>:<target>" for a host folder."""
    return {"type": "bind", "source": source, "target": target, "bind": {}}


def healthcheck_cmd(service: dict[str, Any]) -> str:
    test = service["healthcheck"]["test"]
    return " ".join(test) if isinstance(test, list) else test


# ----------------------------------------------------------------- images
