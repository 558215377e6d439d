"""Run a compose service's exact `command` as a local process, with the service's environment.

What a container would have and a local process does not is mapped, nothing else:
- `python` is this interpreter (the image's is the venv's python on PATH);
- the working directory is the repository root (the image's WORKDIR /app holds the same files);
- the image's ENV comes first, then the service's `environment`, then `overrides` for what
  only exists inside the compose network (WEAVIATE_URL=http://weaviate:8080 -> a local
  server, PORT -> a free port, DATA_DIR=/data -> the host folder compose would mount there,
  CHECKPOINT=/app/... -> the same file in the repository).
Nothing else from the developer's environment leaks in.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from models.settings import ModelSettings

from .specs import ROOT, container_env, env_of, load_compose, parse_dockerfile

# The data folder a local run reads (DATA_DIR, or the settings' default relative to the repository).
DATA_DIR = (ROOT / ModelSettings().data_dir).resolve()


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for ins in parse_dockerfile().final.all("ENV"):
        env.update(env_of(ins))
    env.pop("PATH")
    # The checkpoint the Dockerfile copies to /app/... is this repository's file.
    env["CHECKPOINT"] = str(ROOT / Path(env["CHECKPOINT"]).relative_to("/app"))
    return env


def service_process_env(
    compose_file: str,
    service: str,
    api_key: str,
    overrides: Mapping[str, str],
    shell: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """`shell`: more of the environment `docker compose up` runs in (e.g. API_KEY)."""
    svc = load_compose(compose_file, {"WEAVIATE_API_KEY": api_key, **(shell or {})})["services"][service]
    env = {**image_env(), **container_env(svc)}
    if env.get("DATA_DIR") == "/data":
        env["DATA_DIR"] = str(DATA_DIR)
    env.update(overrides)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}"
    env.setdefault("HOME", os.environ.get("HOME", "/tmp"))  # an override may give the process its own
    return env


def service_command(compose_file: str, service: str, api_key: str = "k") -> list[str]:
    argv = list(load_compose(compose_file, {"WEAVIATE_API_KEY": api_key})["services"][service]["command"])
    assert argv[0] == "python", argv
    return [sys.executable, *argv[1:]]


def start_service(
    compose_file: str,
    service: str,
    api_key: str,
    overrides: Mapping[str, str],
    log: Path,
    shell: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            service_command(compose_file, service, api_key),
            cwd=ROOT,
            env=service_process_env(compose_file, service, api_key, overrides, shell),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def stop_service(process: subprocess.Popen[bytes]) -> None:
    """What `docker compose stop` does: SIGTERM, then SIGKILL if it is not gone in 30 s."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def run_service(
    compose_file: str, service: str, api_key: str, overrides: Mapping[str, str], timeout_s: float
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        service_command(compose_file, service, api_key),
        cwd=ROOT,
        env=service_process_env(compose_file, service, api_key, overrides),
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
