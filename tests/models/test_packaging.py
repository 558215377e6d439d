"""What the serving image gets: whole packages, exactly those its commands import (training/
stays out), every module of models/ among what they import (so models/ holds no training-only
code), and everything the image runs imports only packages that the project's runtime
dependencies install (PyTorch only for its engine, the `torch` extra; training packages are the
`train` extra). No list of files is kept by
hand: all of it is read from the Dockerfile, the compose files and the sources' imports."""

import json
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.imports import imported_names

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT_PACKAGES = {p.parent.name for p in ROOT.glob("*/__init__.py")}


def module_file(name: str) -> Path | None:
    """The project's file for a module name (a package's __init__.py), None if not ours."""
    parts = name.split(".")
    if parts[0] not in PROJECT_PACKAGES:
        return None
    for candidate in (ROOT.joinpath(*parts).with_suffix(".py"), ROOT.joinpath(*parts, "__init__.py")):
        if candidate.is_file():
            return candidate
    return None


def package_files(package: str) -> set[Path]:
    return set((ROOT / package).rglob("*.py"))


def copied_packages() -> set[str]:
    """The project's packages the Dockerfile copies into the image."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    return {m for m in re.findall(r"^COPY (\w+)/ \./\1/$", dockerfile, re.M) if m in PROJECT_PACKAGES}


def commanded_packages() -> set[str]:
    """The packages the image runs: its CMD and every compose service's `python -m X`."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    commands = [json.loads(cmd) for cmd in re.findall(r"^CMD (\[.*\])$", dockerfile, re.M)]
    for name in ("docker-compose.yml", "docker-compose.cluster.yml"):
        services = yaml.safe_load((ROOT / name).read_text())["services"]
        commands += [s["command"] for s in services.values() if "command" in s]
    found = {c[2].split(".")[0] for c in commands if c[:2] == ["python", "-m"]}
    assert found and found <= PROJECT_PACKAGES, found
    return found


def packages_needed_by(entry: set[str]) -> set[str]:
    """`entry` and every project package their files import, transitively (whole packages)."""
    needed, todo = set(entry), list(entry)
    while todo:
        for path in package_files(todo.pop()):
            for name in imported_names(path):
                top = name.split(".")[0]
                if top in PROJECT_PACKAGES and top not in needed:
                    needed.add(top)
                    todo.append(top)
    return needed


def modules_reached_from(files: set[Path]) -> set[Path]:
    """The project files `files` import, transitively, module by module."""
    reached: set[Path] = set()
    todo = list(files)
    while todo:
        for name in imported_names(todo.pop()):
            found = module_file(name)
            if found is not None and found not in reached and found not in files:
                reached.add(found)
                todo.append(found)
    return reached


def test_the_image_copies_whole_the_packages_its_commands_import() -> None:
    copied = copied_packages()
    assert copied == packages_needed_by(commanded_packages())
    assert "training" in PROJECT_PACKAGES and "training" not in copied


def test_every_models_module_is_one_the_image_runs() -> None:
    """models/ holds serving code only: each of its modules is imported by the other packages
    of the image (training, evaluation and the OOD report live in training/)."""
    others = {p for package in copied_packages() - {"models"} for p in package_files(package)}
    reached = {p for p in modules_reached_from(others) if p.is_relative_to(ROOT / "models")}
    unused = package_files("models") - reached - {ROOT / "models" / "__init__.py"}
    assert not {p.relative_to(ROOT).as_posix() for p in unused}


def runtime_distributions(specs: list[str] = PYPROJECT["project"]["dependencies"]) -> set[str]:
    """`specs` (the serving dependencies by default) and everything they require, extras they
    name included."""
    seen: set[str] = set()
    todo = [Requirement(spec) for spec in specs]
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        if name in seen:
            continue
        seen.add(name)
        for spec in metadata.requires(name) or []:
            sub = Requirement(spec)
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in {"", *req.extras}):
                todo.append(sub)
    return seen


# The PyTorch engine (DEVICE=cuda, ENCODER_RUNTIME=torch) and what it needs: the `torch` extra.
TORCH_ENGINE = {ROOT / "models" / "encoders.py"}


def test_what_the_image_runs_needs_only_the_runtime_dependencies() -> None:
    installed = runtime_distributions()
    with_torch = installed | runtime_distributions(PYPROJECT["project"]["optional-dependencies"]["torch"])
    providers = metadata.packages_distributions()
    files = {p for package in copied_packages() for p in package_files(package)}
    assert files and TORCH_ENGINE <= files
    for path in sorted(files):
        for name in imported_names(path):
            top = name.split(".")[0]
            if top in sys.stdlib_module_names or top in PROJECT_PACKAGES:
                continue
            dists = {canonicalize_name(d) for d in providers.get(top, [])}
            allowed = with_torch if path in TORCH_ENGINE else installed
            assert dists & allowed, f"{path.relative_to(ROOT)} imports {name}, not a runtime dependency"
    assert "torch" not in installed
    training = {
        canonicalize_name(Requirement(r).name) for r in PYPROJECT["project"]["optional-dependencies"]["train"]
    }
    assert training and not training & installed
