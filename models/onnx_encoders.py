"""The encoders on ONNX Runtime (CPU): what serving and indexing run when no GPU is used.

Each modality's graph takes a (B, 1, H, W) float32 batch and returns the unit embeddings
and the prototype classifier's probabilities; training.export writes the graphs from the
checkpoint, with the checkpoint's version and config in their metadata.
"""

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# ONNX Runtime's own wheels (1.29 on) report usage to Microsoft from Linux too, and queue the
# reports under ~/.cache/Microsoft until they can be sent; a search service calls no one. The
# switch is read once, when the runtime starts, so it is set before the import (an operator's
# own ORT_DISABLE_TELEMETRY wins).
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
import onnxruntime as ort  # noqa: E402 - after the switch above

from models.encoder_config import EncoderConfig
from models.modality import MODALITIES, Modality
from models.runtime import file_version, onnx_path

# One intra-op thread: a query's forward pass is a millisecond of work, and more threads
# would only fight the concurrent requests (and the preprocessing) for the same cores.
# Spinning off: an idle session must not burn a core waiting for the next batch.
INTRA_OP_THREADS = 1


def session_options() -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = INTRA_OP_THREADS
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    options.enable_cpu_mem_arena = False  # batches vary in size: an arena keeps the largest
    return options


@dataclass
class OnnxEncoders:
    config: EncoderConfig
    model_version: str
    sessions: dict[Modality, ort.InferenceSession]
    prototypes: np.ndarray  # (classes, D) unit rows, shared by both modalities
    device: str = "cpu"
    runtime: str = "onnx"

    def classify(self, modality: Modality, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        session = self.sessions[modality]
        embeddings, probs = session.run(None, {"input": np.ascontiguousarray(batch, dtype=np.float32)})
        return embeddings, probs

    def embed(self, modality: Modality, batch: np.ndarray) -> np.ndarray:
        return self.classify(modality, batch)[0]


class StaleExportError(RuntimeError):
    pass


def decode_prototypes(text: str, config: EncoderConfig) -> np.ndarray:
    """The export's base64 float32 prototypes -> (classes, D), rows re-normalised against rounding."""
    flat = np.frombuffer(base64.b64decode(text), dtype="<f4").astype(np.float32)
    rows = flat.reshape(config.num_classes, config.embed_dim)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def load_onnx_encoders(checkpoint: Path) -> OnnxEncoders:
    version = file_version(checkpoint)
    sessions: dict[Modality, ort.InferenceSession] = {}
    configs = set()
    for modality in MODALITIES:
        path = onnx_path(checkpoint, modality)
        hint = f"export it: python -m training.export --checkpoint {checkpoint}"
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found, the ONNX export of {checkpoint}; {hint}")
        session = ort.InferenceSession(str(path), session_options(), providers=["CPUExecutionProvider"])
        meta = session.get_modelmeta().custom_metadata_map
        if meta.get("model_version") != version:
            raise StaleExportError(
                f"{path} was exported from model version {meta.get('model_version')}, "
                f"{checkpoint} is {version}; {hint}"
            )
        if "prototypes" not in meta:  # an export older than text queries
            raise StaleExportError(f"{path} carries no class prototypes (an older export); {hint}")
        sessions[modality] = session
        configs.add((meta["config"], meta["prototypes"]))
    ((config_json, prototypes),) = configs  # both graphs come from one checkpoint
    config = EncoderConfig.from_dict(json.loads(config_json))
    return OnnxEncoders(config, version, sessions, decode_prototypes(prototypes, config))
