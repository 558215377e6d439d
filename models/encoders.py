"""The two encoders, the shared prototype classifier, and checkpoint loading.

Both encoders are the same small CNN over a one-channel 2-D map (a 28x28 digit, or
a n_mels x frames log-mel spectrogram) ending in an L2-normalised embedding. The
ten class prototypes are shared by both modalities: an image of a 7 and a spoken
"seven" are pulled towards the same point, which is what makes search work.
"""

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from models.encoder_config import EncoderConfig
from models.modality import Modality
from models.runtime import file_version


class ConvEncoder(nn.Module):
    """conv3x3-BN-ReLU stages with 2x2 max-pooling between them, global average pool, linear."""

    def __init__(self, channels: tuple[int, ...], embed_dim: int, dropout: float, depth: int = 1) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_ch = 1
        for i, out_ch in enumerate(channels):
            for _ in range(depth):  # `depth` convolutions per stage
                layers += [
                    nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=False),
                    nn.BatchNorm2d(out_ch),
                    nn.ReLU(),
                ]
                in_ch = out_ch
            if i < len(channels) - 1:
                layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout(dropout)
        self.project = nn.Linear(in_ch, embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)  # (B, C, H', W')
        h = h.mean(dim=(2, 3))  # (B, C): position-invariant, any input width works
        return F.normalize(self.project(self.dropout(h)), dim=1)  # (B, embed_dim), unit length


class DigitEncoders(nn.Module):
    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.config = config
        self.image = ConvEncoder(config.image_channels, config.embed_dim, config.dropout, config.image_depth)
        self.audio = ConvEncoder(config.audio_channels, config.embed_dim, config.dropout, config.audio_depth)
        self.prototypes = nn.Parameter(torch.randn(config.num_classes, config.embed_dim))
        self.logit_scale = 16.0  # cosine logits need a temperature to train with cross-entropy

    def embed(self, modality: Modality, x: torch.Tensor) -> torch.Tensor:
        return self.image(x) if modality == "image" else self.audio(x)

    def logits(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.logit_scale * embeddings @ F.normalize(self.prototypes, dim=1).T  # (B, classes)


def save_checkpoint(model: DigitEncoders, path: Path, meta: dict) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save({"config": model.config.to_dict(), "state_dict": state, "meta": meta}, path)
    return file_version(path)


@dataclass
class TorchEncoders:
    """The PyTorch model in eval mode on its device (models.runtime.Encoders)."""

    model: DigitEncoders
    config: EncoderConfig
    model_version: str
    device: str
    prototypes: np.ndarray  # (classes, D) float32 unit rows, as the ONNX export carries them
    runtime: str = "torch"

    @torch.inference_mode()
    def classify(self, modality: Modality, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Embeddings (B, D) and class probabilities (B, 10), as float32 numpy arrays."""
        emb = self.model.embed(modality, torch.as_tensor(batch).to(self.device, non_blocking=True))
        probs = self.model.logits(emb).softmax(dim=1)
        return emb.float().cpu().numpy(), probs.float().cpu().numpy()

    def embed(self, modality: Modality, batch: np.ndarray) -> np.ndarray:
        return self.classify(modality, batch)[0]


def torch_threads(threads: int = 1) -> Callable[[], None]:
    """PyTorch's intra-op threads on CPU (serving: one, as models.onnx_encoders sets for ONNX
    Runtime); returns what restores the previous count."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    return functools.partial(torch.set_num_threads, previous)


def load_model(path: Path) -> DigitEncoders:
    """The checkpoint's model on CPU, in training mode (training and export build on it)."""
    raw = torch.load(path, map_location="cpu", weights_only=True)
    model = DigitEncoders(EncoderConfig.from_dict(raw["config"]))
    model.load_state_dict(raw["state_dict"])
    return model


def load_torch_encoders(path: Path, device: str = "cpu") -> TorchEncoders:
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("DEVICE=cuda was asked for but CUDA is not available")
    model = load_model(path)
    model.to(device).eval()
    with torch.no_grad():
        prototypes = F.normalize(model.prototypes.float(), dim=1).cpu().numpy()
    return TorchEncoders(model, model.config, file_version(path), device, prototypes)
