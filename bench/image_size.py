"""`python -m bench.image_size` (`make image-size`): what the serving image weighs, without Docker.

There is no Docker engine here, so the image cannot be built and `docker images` cannot be
read. What the Dockerfile adds to its base image can still be measured: its builder stage is
one `RUN` that makes /opt/venv, and its runtime stage copies that venv and the packages. This
runs that very `RUN` line, read from the Dockerfile (so the measurement follows the file),
into a temporary folder for each TORCH_VARIANT asked for, and sums the bytes of every file the
layers would hold (a layer is a tar of its files: its uncompressed size is their sum). The
package layer is what `COPY` brings in from the build context, filtered by .dockerignore with
Docker's own matcher (scripts/dockerignore). The base image (python:*-slim) cannot be pulled
here: it is not in these numbers.

A variant's torch comes from PyPI, not PyTorch's index (not reachable here): PyPI's Linux
torch is the CUDA 13.0 build, the wheels TORCH_VARIANT=cu130 installs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import fmt, log, md_table
from bench.dockerfile import Dockerfile, ignored_paths, parse_dockerfile, split_flags

ROOT = Path(__file__).resolve().parents[1]
VENV = "/opt/venv"  # where the Dockerfile's builder puts the environment the image runs


def builder_run(dockerfile: Dockerfile) -> str:
    """The builder stage's one `RUN` command (the one that makes the venv)."""
    runs = [ins.args for ins in dockerfile.stages[0].all("RUN") if VENV in ins.args]
    if len(runs) != 1:
        raise ValueError(f"expected one RUN that builds {VENV}, found {len(runs)}")
    return runs[0]


def context_copies(dockerfile: Dockerfile) -> list[str]:
    """Sources of the final (runtime) stage's `COPY`s from the build context (not `--from=`)."""
    sources: list[str] = []
    for ins in dockerfile.final.all("COPY"):
        flags, words = split_flags(ins.args)
        if "from" not in flags:
            sources += words[:-1]
    return sources


def tree_bytes(path: Path) -> int:
    """Bytes of every regular file under `path` (symlinks count as nothing: a tar stores a name)."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def largest(site_packages: Path, n: int = 8) -> dict[str, float]:
    """The n largest top-level entries of site-packages, in MB."""
    sizes = {p.name: tree_bytes(p) if p.is_dir() else p.stat().st_size for p in site_packages.iterdir()}
    top = sorted(sizes.items(), key=lambda kv: kv[1], reverse=True)[:n]
    return {name: round(size / 1e6, 1) for name, size in top}


def build_venv(run_command: str, variant: str, work: Path) -> dict:
    """The builder's RUN with /opt/venv moved into `work`; the venv's size and largest parts."""
    venv = work / "venv"
    shutil.copy(ROOT / "pyproject.toml", work)
    shutil.copy(ROOT / "requirements.lock", work)
    env = os.environ | {
        "TORCH_VARIANT": variant,
        "TORCH_INDEX_URL": os.environ.get("IMAGE_TORCH_INDEX_URL", "https://pypi.org/simple"),
        "PIP_NO_CACHE_DIR": "1",  # as the Dockerfile's ENV: nothing of pip's cache in the layer
        "PYTHONDONTWRITEBYTECODE": "1",
        "PATH": f"{Path(sys.base_prefix) / 'bin'}:{os.environ['PATH']}",  # `python` is a plain interpreter
    }
    t0 = time.perf_counter()
    subprocess.run(
        ["bash", "-o", "pipefail", "-c", run_command.replace(VENV, str(venv))],
        cwd=work,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    site = next(venv.glob("lib/python3*/site-packages"))
    return {
        "venv_mb": round(tree_bytes(venv) / 1e6, 1),
        "largest_mb": largest(site),
        "has_torch": (site / "torch").is_dir(),
        "build_s": round(time.perf_counter() - t0, 1),
    }


def package_layer_mb(sources: list[str]) -> float:
    """Bytes the runtime stage copies from the build context, as .dockerignore lets them in."""
    files = [p for src in sources for p in sorted((ROOT / src).rglob("*")) if p.is_file()]
    files += [ROOT / src for src in sources if (ROOT / src).is_file()]
    left_out = ignored_paths([str(p.relative_to(ROOT)) for p in files])
    kept = [p for p in files if str(p.relative_to(ROOT)) not in left_out]
    return round(sum(p.stat().st_size for p in kept) / 1e6, 1)


def markdown(results: dict) -> str:
    header = ["TORCH_VARIANT", "venv (MB)", "+ packages (MB)", "added to the base (MB)", "largest parts (MB)"]
    packages = results["package_layer_mb"]
    rows = []
    for variant, r in results["variants"].items():
        parts = ", ".join(f"{name} {mb:g}" for name, mb in list(r["largest_mb"].items())[:5])
        added = f"**{fmt(r['venv_mb'] + packages)}**"
        rows.append([variant, fmt(r["venv_mb"]), f"{packages:g}", added, parts])
    return "\n".join(md_table(header, rows)) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.image_size", description=__doc__.split("\n\n")[0])
    p.add_argument("--variants", default="none,cu130", help="TORCH_VARIANTs to build (none,cu130)")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results", help="where image_size.json goes")
    args = p.parse_args(argv)
    dockerfile = parse_dockerfile(ROOT / "Dockerfile")
    run_command = builder_run(dockerfile)
    results: dict = {"package_layer_mb": package_layer_mb(context_copies(dockerfile)), "variants": {}}
    for variant in [v.strip() for v in args.variants.split(",") if v.strip()]:
        if not re.fullmatch(r"[a-z0-9]+", variant):
            p.error(f"not a TORCH_VARIANT: {variant!r}")
        log(f"image_size: building the venv for TORCH_VARIANT={variant}")
        with tempfile.TemporaryDirectory(prefix=f"image-{variant}-") as work:
            results["variants"][variant] = build_venv(run_command, variant, Path(work))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "image_size.json").write_text(json.dumps(results, indent=2) + "\n")
    sys.stdout.write(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
