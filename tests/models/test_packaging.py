"""What the serving image gets of models/: exactly the modules the service and the indexer
import (training, evaluation and the OOD generators stay out), and everything the image runs
imports only packages that the project's runtime dependencies install (training packages
are the `train` extra)."""

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
TRAINING_ONLY = ("train", "evaluate", "augment", "plots", "retrieval_metrics", "ood")


def imported_names(path: Path) -> set[str]:
    """Absolute module names a file imports, lazy (in-function) imports included."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}  # from models import data
    return names


def models_file(name: str) -> Path | None:
    parts = name.split(".")
    if parts[0] != "models" or len(parts) < 2:
        return None
    for candidate in (ROOT.joinpath(*parts).with_suffix(".py"), ROOT.joinpath(*parts, "__init__.py")):
        if candidate.is_file():
            return candidate
    return None


def image_python_files() -> tuple[set[Path], set[Path]]:
    """(the files of the packages the image runs, the models/ files they reach by following imports)."""
    entry = {
        p for package in ("store", "indexer", "service", "launcher") for p in (ROOT / package).rglob("*.py")
    }
    reached, todo = {ROOT / "models" / "__init__.py"}, list(entry)
    while todo:
        for name in imported_names(todo.pop()):
            found = models_file(name)
            if found is not None and found not in reached:
                reached.add(found)
                todo.append(found)
    return entry, reached


def runtime_distributions() -> set[str]:
    """project.dependencies and everything they require, extras they name included."""
    seen: set[str] = set()
    todo = [Requirement(spec) for spec in PYPROJECT["project"]["dependencies"]]
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


def test_the_image_copies_exactly_the_models_modules_the_service_and_indexer_import() -> None:
    _, reached = image_python_files()
    wanted = {p.relative_to(ROOT).as_posix() for p in reached}
    assert not {f"models/{m}.py" for m in TRAINING_ONLY} & wanted
    assert not any(w.startswith("models/ood/") for w in wanted)
    dockerfile = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    copied = {s for line in re.findall(r"^COPY (.+) \./models/$", dockerfile, re.M) for s in line.split()}
    assert copied == wanted
    allowed = set(re.findall(r"^!(models/\S+\.py)$", (ROOT / ".dockerignore").read_text(), re.M))
    assert allowed == wanted


def test_what_the_image_runs_needs_only_the_runtime_dependencies() -> None:
    entry, reached = image_python_files()
    installed = runtime_distributions()
    providers = metadata.packages_distributions()
    for path in sorted(entry | reached):
        for name in imported_names(path):
            top = name.split(".")[0]
            if top in sys.stdlib_module_names or top in ("models", "store", "indexer", "service", "launcher"):
                continue
            dists = {canonicalize_name(d) for d in providers.get(top, [])}
            assert dists & installed, f"{path.relative_to(ROOT)} imports {name}, not a runtime dependency"
    training = {
        canonicalize_name(Requirement(r).name) for r in PYPROJECT["project"]["optional-dependencies"]["train"]
    }
    assert training and not training & installed
