"""Which engine runs the encoders, behind one interface for indexing and serving.

The checkpoint (a PyTorch file) is the model; its ONNX export sits beside it, one file per
modality, and carries the checkpoint's version and preprocessing config in its metadata.
On CPU the encoders run on ONNX Runtime, so serving never imports torch (half a gigabyte
before it does anything); on a GPU, or when asked for (ENCODER_RUNTIME=torch), the
PyTorch model runs, which needs the `torch` extra installed.
"""

import hashlib
import importlib.util
from pathlib import Path
from typing import Protocol

import numpy as np

from models.encoder_config import EncoderConfig
from models.modality import Modality


class Encoders(Protocol):
    """What indexing and serving call: a batch of preprocessed inputs in, unit embeddings out."""

    config: EncoderConfig
    model_version: str  # the checkpoint's, whichever engine runs it
    device: str  # "cpu" or "cuda"
    runtime: str  # "onnx" or "torch"
    prototypes: np.ndarray  # (classes, D) float32 unit rows: the query vector of a typed digit

    def classify(self, modality: Modality, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(B, ...) float32 inputs -> embeddings (B, D) and class probabilities (B, 10), float32."""
        ...

    def embed(self, modality: Modality, batch: np.ndarray) -> np.ndarray: ...


def file_version(path: Path) -> str:
    """A checkpoint's model version: the first 12 hex digits of its sha256."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def onnx_path(checkpoint: Path, modality: Modality) -> Path:
    """models/checkpoints/digitbridge.pt -> models/checkpoints/digitbridge.image.onnx."""
    return Path(checkpoint).with_name(f"{Path(checkpoint).stem}.{modality}.onnx")


def gpu_present() -> bool:
    """An NVIDIA device is visible and PyTorch is installed to drive it (checked without
    importing torch, which would cost the memory the ONNX path saves)."""
    return Path("/dev/nvidiactl").exists() and importlib.util.find_spec("torch") is not None


def resolve(device: str, runtime: str) -> tuple[str, str]:
    """DEVICE and ENCODER_RUNTIME -> (device, runtime) to load. auto: the GPU with PyTorch
    when there is one, else ONNX Runtime on CPU."""
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"DEVICE must be auto, cpu or cuda, not {device!r}")
    if runtime not in ("auto", "onnx", "torch"):
        raise ValueError(f"ENCODER_RUNTIME must be auto, onnx or torch, not {runtime!r}")
    if device == "auto":
        device = "cuda" if runtime != "onnx" and gpu_present() else "cpu"
    if device == "cuda" and runtime == "onnx":
        raise ValueError("ENCODER_RUNTIME=onnx runs on CPU only; use DEVICE=cpu or ENCODER_RUNTIME=torch")
    if runtime == "auto":
        runtime = "torch" if device == "cuda" else "onnx"
    return device, runtime


def load_encoders(checkpoint: Path | str, device: str = "auto", runtime: str = "auto") -> Encoders:
    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise FileNotFoundError(f"checkpoint not found: {checkpoint} (set CHECKPOINT)")
    device, runtime = resolve(device, runtime)
    if runtime == "torch":
        from models.encoders import load_torch_encoders  # the `torch` extra

        return load_torch_encoders(checkpoint, device)
    from models.onnx_encoders import load_onnx_encoders

    return load_onnx_encoders(checkpoint)
