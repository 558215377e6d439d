"""training.export: a checkpoint's ONNX graphs carry its version and embed as PyTorch does."""

from pathlib import Path

import numpy as np
import torch

from models.encoder_config import EncoderConfig
from models.encoders import DigitEncoders, load_torch_encoders, save_checkpoint
from models.runtime import load_encoders, onnx_path
from training.export import export_onnx


def test_exported_graphs_embed_as_pytorch_at_any_batch_size(tmp_path: Path) -> None:
    torch.manual_seed(3)
    path = tmp_path / "model.pt"
    version = save_checkpoint(DigitEncoders(EncoderConfig()), path, {})
    assert export_onnx(path) == [onnx_path(path, "image"), onnx_path(path, "audio")]
    onnx_engine = load_encoders(path, "cpu", "onnx")
    torch_engine = load_torch_encoders(path, "cpu")
    assert onnx_engine.model_version == version and onnx_engine.config == EncoderConfig()
    rng = np.random.default_rng(0)
    for modality, shape in (("image", (1, 28, 28)), ("audio", (1, 32, 64))):
        for batch in (1, 7, 64):  # the batch axis is dynamic: micro-batches vary in size
            x = rng.standard_normal((batch, *shape)).astype(np.float32)
            onnx_emb, onnx_probs = onnx_engine.classify(modality, x)
            torch_emb, torch_probs = torch_engine.classify(modality, x)
            assert (onnx_emb * torch_emb).sum(1).min() >= 0.9999
            assert np.abs(onnx_probs - torch_probs).max() < 1e-4
