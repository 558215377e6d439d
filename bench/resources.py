"""Memory of the processes under test (RSS and PSS from /proc), sampled at rest and under load,
and a description of the machine the numbers were measured on."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import threading
from pathlib import Path

# smaps_rollup fields worth keeping; PSS splits into anonymous memory (the process's own) and
# file-backed memory (mostly shared libraries such as torch's, shared with other processes).
FIELDS = ("Rss", "Pss", "Pss_Anon", "Pss_File", "Shared_Clean", "Private_Dirty")


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return kids


def process_tree(pid: int) -> list[int]:
    """pid and all its descendants (uvicorn with WORKERS > 1 forks worker processes)."""
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo += _children(p)
    return tree


def memory_mb(pid: int) -> dict[str, float]:
    """The FIELDS of one process tree, summed, in MB (empty if the process is gone)."""
    total = dict.fromkeys(FIELDS, 0.0)
    found = False
    for p in process_tree(pid):
        try:
            text = Path(f"/proc/{p}/smaps_rollup").read_text()
        except OSError:
            continue
        found = True
        for line in text.splitlines()[1:]:
            name, _, rest = line.partition(":")
            if name in total:
                total[name] += int(rest.split()[0]) / 1024.0  # kB -> MB
    return {k: round(v, 1) for k, v in total.items()} if found else {}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process tree so far (0.0 once it is gone)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in process_tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / tick


class PeakSampler:
    """Samples the memory of named processes in a thread; `peaks` keeps the largest of each field."""

    def __init__(self, pids: dict[str, int], interval_s: float = 0.5) -> None:
        self.pids = pids
        self.interval_s = interval_s
        self.peaks: dict[str, dict[str, float]] = {name: {} for name in pids}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-memory", daemon=True)

    def _run(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(self.interval_s):
                return

    def sample(self) -> None:
        for name, pid in self.pids.items():
            peak = self.peaks[name]
            for k, v in memory_mb(pid).items():
                peak[k] = max(peak.get(k, 0.0), v)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def merge_peaks(into: dict[str, dict[str, float]], peaks: dict[str, dict[str, float]]) -> None:
    for name, fields in peaks.items():
        target = into.setdefault(name, {})
        for k, v in fields.items():
            target[k] = max(target.get(k, 0.0), v)


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _mem_total_gb() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 1024**2, 1)
    return float("nan")


def _git_commit(root: Path) -> str:
    out = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain"], capture_output=True, text=True)
    return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def machine(root: Path, hey_version: str) -> dict:
    """CPU, cores, RAM, accelerator and library versions."""
    import torch
    import weaviate

    from store import WEAVIATE_VERSION

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "ram_gb": _mem_total_gb(),
        "gpu": gpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "onnxruntime": importlib.metadata.version("onnxruntime"),  # not imported: models.onnx_encoders does
        "weaviate_server": WEAVIATE_VERSION,
        "weaviate_client": weaviate.__version__,
        "hey": hey_version,
        "commit": _git_commit(root),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
