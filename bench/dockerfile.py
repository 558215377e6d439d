"""The Dockerfile as Docker reads it: line continuations joined, comments dropped, split into
build stages of instructions; and its build context as .dockerignore leaves it, matched by
Docker's own matcher (scripts/dockerignore). Read by bench.image_size (which replays the
builder's RUN) and by the deployment tests (tests/deploy), so both see the files the same way."""

from __future__ import annotations

import functools
import re
import shlex
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


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


def logical_lines(text: str) -> list[str]:
    """Instructions one per line: continuations joined, blank and comment lines dropped."""
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
    """The Dockerfile's global ARGs and its stages, each with its instructions in order."""
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical_lines(path.read_text()):
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


@functools.cache
def deploy_tool(name: str) -> Path:
    """The binary of a tool scripts/deploy_tools.sh builds (`compose`, `dockerignore`).

    The script is a no-op when the binary is there (`make test` builds it first); run
    directly, the first call builds it.
    """
    result = subprocess.run(
        [str(ROOT / "scripts" / "deploy_tools.sh"), name], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"scripts/deploy_tools.sh {name} failed:\n{result.stderr[-3000:]}")
    return Path(result.stdout.strip())


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
    if len(answers) != len(rel_paths):
        raise RuntimeError(f"dockerignore answered {len(answers)} of {len(rel_paths)}: {result.stderr}")
    return {p for p, answer in zip(rel_paths, answers, strict=True) if answer == "1"}
