"""Read the deployment files the way their tools do, so tests can check what they promise.

- compose files: resolved by the docker compose CLI itself (`config --format json`: YAML
  anchors and merges, `${VAR:-default}` / `${VAR:?error}` interpolation, the compose
  schema, paths made absolute, short forms such as "8000:8000" expanded to their long form).
- .dockerignore: matched by Docker's own reader and matcher (scripts/dockerignore).
  Both tools are Go programs scripts/deploy_tools.sh builds once (`make deploy-tools`).
- Dockerfile: instructions with line continuations joined, split into build stages.
- settings classes: the environment variable names pydantic-settings reads for them.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import json
import os
import pkgutil
import re
import shlex
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import AliasChoices
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[2]


@functools.cache
def deploy_tool(name: str) -> Path:
    """The binary of a tool scripts/deploy_tools.sh builds (`compose`, `dockerignore`).

    The script is a no-op when the binary is there (`make test` builds it first); run
    directly, the first test builds it.
    """
    result = subprocess.run(
        [str(ROOT / "scripts" / "deploy_tools.sh"), name], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"scripts/deploy_tools.sh {name} failed:\n{result.stderr[-3000:]}"
    return Path(result.stdout.strip())


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


# ------------------------------------------------------------------ Dockerfile


@dataclass
class Instruction:
    keyword: str  # upper case, e.g. "COPY"
    args: str  # the rest of the (joined) line


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


@dataclass
class Dockerfile:
    global_args: dict[str, str]  # ARGs before the first FROM, with defaults
    stages: list[Stage]

    @property
    def final(self) -> Stage:
        return self.stages[-1]


def _logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue  # comment lines inside a continued instruction are dropped
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    if current:
        lines.append(current)
    return lines


def parse_arg(args: str) -> tuple[str, str | None]:
    name, _, default = args.partition("=")
    return name.strip(), (default.strip() if "=" in args else None)


def parse_dockerfile(path: Path = ROOT / "Dockerfile") -> Dockerfile:
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in _logical_lines(path.read_text()):
        keyword, _, args = line.partition(" ")
        keyword, args = keyword.upper(), args.strip()
        if keyword == "FROM":
            words = args.split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name))
        elif not stages:
            if keyword == "ARG":
                name, default = parse_arg(args)
                global_args[name] = default or ""
        else:
            stages[-1].instructions.append(Instruction(keyword, args))
    return Dockerfile(global_args, stages)


def substitute(value: str, variables: Mapping[str, str]) -> str:
    """Dockerfile `${VAR}` / `$VAR` substitution (the forms this Dockerfile uses)."""
    return re.sub(
        r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)",
        lambda m: variables.get(m[1] or m[2], ""),
        value,
    )


def stage_args(stage: Stage, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """A stage's ARG values after its defaults and any --build-arg overrides."""
    values: dict[str, str] = {}
    for ins in stage.all("ARG"):
        name, default = parse_arg(ins.args)
        if overrides and name in overrides:
            values[name] = overrides[name]
        else:
            values[name] = substitute(default or "", values)
    return values


def split_flags(args: str) -> tuple[dict[str, str], list[str]]:
    """`--from=builder a b` -> ({"from": "builder"}, ["a", "b"]); JSON form too."""
    words = shlex.split(args)
    flags = {}
    while words and words[0].startswith("--"):
        key, _, value = words.pop(0)[2:].partition("=")
        flags[key] = value
    return flags, words


def env_of(ins: Instruction) -> dict[str, str]:
    """ENV k=v k2=v2 (the form this Dockerfile uses)."""
    return dict(word.split("=", 1) for word in shlex.split(ins.args))


# ------------------------------------------------------------------ .dockerignore


def ignored_paths(rel_paths: list[str], context: Path = ROOT) -> set[str]:
    """Those of `rel_paths` (relative to the build context) that .dockerignore keeps out."""
    result = subprocess.run(
        [str(deploy_tool("dockerignore")), str(context)],
        input="".join(f"{p}\n" for p in rel_paths),
        capture_output=True,
        text=True,
        check=True,
    )
    answers = result.stdout.split()
    assert len(answers) == len(rel_paths), result.stdout + result.stderr
    return {p for p, answer in zip(rel_paths, answers, strict=True) if answer == "1"}


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
