"""Checkpoint -> ONNX: one graph per modality, beside the checkpoint, for ONNX Runtime.

    python -m training.export [--checkpoint models/checkpoints/digitbridge.pt]

Each graph maps a (B, 1, H, W) batch to the unit embeddings and the prototype classifier's
probabilities, so serving needs nothing of PyTorch. Its metadata carries the checkpoint's
model version, preprocessing config and the ten unit class prototypes (the query vectors of
a typed digit); models.onnx_encoders refuses a graph whose version
is not the checkpoint's. training.train exports after saving, so a new checkpoint always
comes with its graphs.
"""

import base64
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from pydantic_settings import CliApp, SettingsConfigDict
from torch import nn
from torch.nn import functional as F

from models.encoders import DigitEncoders, load_model
from models.modality import MODALITIES, Modality
from models.runtime import file_version, onnx_path
from models.settings import ModelSettings

OPSET = 18


class ModalityHead(nn.Module):
    """One modality's encoder and the shared prototype classifier, as one graph."""

    def __init__(self, model: DigitEncoders, modality: Modality) -> None:
        super().__init__()
        self.model, self.modality = model, modality

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        embeddings = self.model.embed(self.modality, x)
        return embeddings, self.model.logits(embeddings).softmax(dim=1)


def encode_prototypes(prototypes: np.ndarray) -> str:
    """(classes, D) -> base64 of the little-endian float32 bytes (metadata values are strings)."""
    return base64.b64encode(np.ascontiguousarray(prototypes, dtype="<f4").tobytes()).decode("ascii")


def example_input(model: DigitEncoders, modality: Modality, batch: int = 2) -> torch.Tensor:
    config = model.config
    if modality == "image":
        return torch.zeros(batch, 1, config.image.size, config.image.size)
    return torch.zeros(batch, 1, config.audio.n_mels, config.audio.frames)


def export_onnx(checkpoint: Path) -> list[Path]:
    """Write checkpoint's graphs (models.runtime.onnx_path) and return their paths."""
    model = load_model(checkpoint).eval()
    prototypes = F.normalize(model.prototypes.detach(), dim=1).numpy()
    meta = {
        "model_version": file_version(checkpoint),
        "config": json.dumps(model.config.to_dict()),
        "prototypes": encode_prototypes(prototypes),
    }
    written = []
    for modality in MODALITIES:
        path = onnx_path(checkpoint, modality)
        batch = torch.export.Dim("batch", min=1, max=4096)
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the exporter's notes on its own internals
            program = torch.onnx.export(
                ModalityHead(model, modality),
                (example_input(model, modality),),
                input_names=["input"],
                output_names=["embedding", "probabilities"],
                dynamic_shapes=({0: batch},),
                opset_version=OPSET,
                dynamo=True,
                verbose=False,
            )
        assert program is not None  # dynamo=True always returns the program
        graph = program.model_proto
        onnx.helper.set_model_props(graph, meta)
        onnx.save_model(graph, path)
        written.append(path)
    return written


class ExportSettings(ModelSettings):
    """Exports a checkpoint's encoders to ONNX, beside it. Each option is also an env var."""

    model_config = SettingsConfigDict(cli_prog_name="python -m training.export")


def main(argv: list[str] | None = None) -> None:
    settings = CliApp.run(ExportSettings, cli_args=argv)
    for path in export_onnx(settings.checkpoint):
        sys.stdout.write(f"wrote {path}\n")


if __name__ == "__main__":
    main()
