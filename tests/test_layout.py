"""The packages import one way (docs/ARCHITECTURE.md): service -> store <- indexer, models under
all of them, the launcher the only place the service and the indexer meet, and training apart
(it imports models; nothing that serves imports it). Read from the source, lazy (in-function)
imports included."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.imports import imported_names

ROOT = Path(__file__).resolve().parents[1]

# package -> the project's packages it may import (itself included)
MAY_IMPORT = {
    "models": {"models"},
    "store": {"store", "models"},
    "indexer": {"indexer", "store", "models"},
    "service": {"service", "store", "models"},
    "launcher": {"launcher", "service", "indexer", "store", "models"},
    "training": {"training", "models"},
}
PROJECT = {*MAY_IMPORT, "bench", "tests"}


def project_imports(package: str) -> dict[str, set[str]]:
    """file -> the project's top-level packages it imports."""
    found = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        tops = {name.split(".")[0] for name in imported_names(path)} & PROJECT
        found[path.relative_to(ROOT).as_posix()] = tops
    return found


def test_every_project_package_has_a_rule() -> None:
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    assert packages == PROJECT, "a new top-level package needs a line in MAY_IMPORT and the docs"


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_imports_go_one_way(package: str) -> None:
    wrong = {f: tops - MAY_IMPORT[package] for f, tops in project_imports(package).items()}
    assert not {f: w for f, w in wrong.items() if w}


def test_service_and_indexer_do_not_import_each_other() -> None:
    for package, other in (("service", "indexer"), ("indexer", "service")):
        assert not [f for f, tops in project_imports(package).items() if other in tops]
    assert any("indexer" in t and "service" in t for t in project_imports("launcher").values())
