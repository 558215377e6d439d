"""Read the deployment files the way their tools do, so tests can check what they promise.

- compose files: YAML (anchors and `<<` merges resolved by PyYAML, as compose does), then
  compose's `${VAR}`, `${VAR:-default}`, `${VAR:?error}` interpolation on every string.
- Dockerfile: instructions with line continuations joined, split into build stages.
- .dockerignore: Docker's rules (patterns relative to the context root, `*` within one path
  segment, `**` across segments, a match on a parent folder covers its contents, the last
  matching line wins, `!` re-includes).
- settings classes: the environment variable names pydantic-settings reads for them.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[2]

# ------------------------------------------------------------------ compose


class InterpolationError(ValueError):
    """A `${VAR:?message}` whose variable is unset or empty, as compose refuses it."""


_VAR = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """Compose's variable substitution for one string."""

    def replace(m: re.Match[str]) -> str:
        if m["escaped"]:
            return "$"
        name = m["braced"] or m["named"]
        op, arg = m["op"], m["arg"] or ""
        current = env.get(name)
        empty_counts = op is not None and op.startswith(":")  # ":-" etc. treat "" like unset
        missing = current is None or (empty_counts and current == "")
        if op in (":-", "-"):
            return arg if missing else current  # type: ignore[return-value]
        if op in (":?", "?"):
            if missing:
                raise InterpolationError(f"{name}: {arg}")
            return current  # type: ignore[return-value]
        if op in (":+", "+"):
            return "" if missing else arg
        return current or ""

    return _VAR.sub(replace, value)


def _interpolate_tree(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [_interpolate_tree(v, env) for v in node]
    if isinstance(node, dict):
        return {k: _interpolate_tree(v, env) for k, v in node.items()}
    return node


def load_compose(name: str, env: Mapping[str, str]) -> dict[str, Any]:
    """The compose file as compose sees it with `env` as the shell environment."""
    raw = yaml.safe_load((ROOT / name).read_text())
    return _interpolate_tree(raw, env)


def container_env(service: Mapping[str, Any]) -> dict[str, str]:
    """A service's `environment` (map or list form) as strings."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
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


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
            continue
        if pattern.startswith("**", i):
            out += ".*"
            i += 2
            continue
        out += {"*": "[^/]*", "?": "[^/]"}.get(c, re.escape(c))
        i += 1
    return re.compile(out + r"\Z")


def dockerignore_rules(path: Path = ROOT / ".dockerignore") -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line[1:] if negate else line
        pattern = pattern.strip().strip("/")
        rules.append((negate, _pattern_regex(pattern)))
    return rules


def ignored(rel_path: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Whether the file at `rel_path` (relative to the context) stays out of the context."""
    parts = rel_path.strip("/").split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    result = False
    for negate, regex in rules:
        if any(regex.match(p) for p in prefixes):
            result = not negate
    return result


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
