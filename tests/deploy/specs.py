"""Read the deployment files the way their tools do, so tests can check what they promise.

- compose files: resolved by the docker compose CLI itself (`config --format json`: YAML
  anchors and merges, `${VAR:-default}` / `${VAR:?error}` interpolation, the compose
  schema, paths made absolute, short forms such as "8000:8000" expanded to their long form).
- .dockerignore: matched by Docker's own reader and matcher (scripts/dockerignore, through
  bench.dockerfile).
  Both tools are Go programs scripts/deploy_tools.sh builds once (`make deploy-tools`).
- Dockerfile: bench.dockerfile (instructions with line continuations joined, in build stages).
- settings classes: the environment variable names pydantic-settings reads for them.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import json
import os
import pkgutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from bench.dockerfile import (  # noqa: F401 - the deployment tests read the Dockerfile through here
    Dockerfile,
    Instruction,
    Stage,
    deploy_tool,
    env_of,
    ignored_paths,
    parse_arg,
    parse_dockerfile,
    split_flags,
    stage_args,
    substitute,
)

ROOT = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------ compose


class ComposeConfigError(ValueError):
    """`docker compose config` refused the file, e.g. a `${VAR:?message}` whose VAR is unset."""


def _compose(name: str, env: Mapping[str, str], *args: str) -> str:
    """Run the compose CLI on one file with `env` as its whole environment.

    `--env-file /dev/null`: a developer's .env must not fill in what a test leaves unset.
    `--profile *`: every service, the gpu profile's included.
    """
    command = [str(deploy_tool("compose")), "--project-directory", str(ROOT), "-f", str(ROOT / name)]
    command += ["--env-file", os.devnull, "--profile", "*", "config", *args]
    result = subprocess.run(command, env=dict(env), cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ComposeConfigError(result.stderr.strip())
    return result.stdout


@functools.cache
def _resolved(name: str, env: tuple[tuple[str, str], ...]) -> str:
    return _compose(name, dict(env), "--format", "json")


def load_compose(name: str, env: Mapping[str, str]) -> dict[str, Any]:
    """The compose file as `docker compose up` runs it, with `env` as the shell environment."""
    return json.loads(_resolved(name, tuple(sorted(env.items()))))  # a fresh copy each call


def check_compose(name: str, env: Mapping[str, str]) -> None:
    """`docker compose config --quiet`: raises ComposeConfigError where compose refuses the file."""
    _compose(name, env, "--quiet")


def container_env(service: Mapping[str, Any]) -> dict[str, str]:
    """A resolved service's `environment` (compose writes a map) as strings.

    A name listed without a value and unset in the shell comes out as null: "".
    """
    env = service.get("environment") or {}
    return {k: "" if v is None else str(v) for k, v in env.items()}


# ------------------------------------------------------------------ settings


def settings_env_names(cls: type[BaseSettings]) -> set[str]:
    """The environment variable names pydantic-settings reads for `cls` (upper case)."""
    prefix = cls.model_config.get("env_prefix", "") or ""
    names: set[str] = set()
    for name, info in cls.model_fields.items():
        alias = info.validation_alias or info.alias
        if isinstance(alias, str):
            names.add(alias.upper())
        elif isinstance(alias, AliasChoices):
            names |= {c.upper() for c in alias.choices if isinstance(c, str)}
        else:
            names.add(f"{prefix}{name}".upper())
    return names


def required_env_names(cls: type[BaseSettings]) -> set[str]:
    prefix = cls.model_config.get("env_prefix", "") or ""
    return {f"{prefix}{n}".upper() for n, info in cls.model_fields.items() if info.is_required()}


def settings_classes(package: str) -> list[type[BaseSettings]]:
    """Every BaseSettings subclass defined in `package`'s modules (what its processes read)."""
    pkg = importlib.import_module(package)
    modules = [pkg] + [
        importlib.import_module(f"{package}.{m.name}")
        for m in pkgutil.iter_modules(pkg.__path__)
        if not m.ispkg
    ]
    found: dict[str, type[BaseSettings]] = {}
    for module in modules:
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseSettings) and obj is not BaseSettings:
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return list(found.values())
