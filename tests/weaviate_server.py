"""Start and stop real Weaviate servers for tests, through the same embedded path the project uses.

`store.connect` with no WEAVIATE_URL starts the server binary that `make weaviate`
installs (or shares one already listening on the ports), and the last client to close stops
it. Tests therefore get a real server on free ports with a throw-away data folder.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import store
from models.settings import ModelSettings
from store.embedded.server_process import free_port

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ModelSettings().data_dir.resolve()  # absolute: subprocesses may run elsewhere


def embedded_settings(data_dir: Path, **overrides: object) -> store.StoreSettings:
    """Settings for an embedded server on fresh free ports, data under `data_dir`."""
    values: dict[str, object] = {
        "weaviate_url": None,  # explicit: a WEAVIATE_URL in the environment must not leak in
        "weaviate_port": free_port(),
        "weaviate_grpc_port": free_port(),
        "weaviate_data_dir": data_dir,
        "weaviate_timeout_s": 10.0,
        "data_dir": DATA_DIR,
        "device": "cpu",
    }
    values.update(overrides)
    return store.StoreSettings(**values)  # type: ignore[arg-type]


def env_for(settings: store.StoreSettings, **extra: str) -> dict[str, str]:
    """Environment for a subprocess (e.g. `python -m indexer`) that should use the same server."""
    env = {k: v for k, v in os.environ.items() if k != "WEAVIATE_URL"}
    env.update(
        WEAVIATE_PORT=str(settings.weaviate_port),
        WEAVIATE_GRPC_PORT=str(settings.weaviate_grpc_port),
        WEAVIATE_DATA_DIR=str(settings.weaviate_data_dir),
        WEAVIATE_TIMEOUT_S=str(settings.weaviate_timeout_s),
        DATA_DIR=str(settings.data_dir),
        COLLECTION=settings.collection,
        CHECKPOINT=str(settings.checkpoint),
        DEVICE=settings.device,
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


def wait_closed(port: int, timeout_s: float = 30.0) -> bool:
    """True once nothing listens on 127.0.0.1:port any more."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return True
        time.sleep(0.05)
    return False
