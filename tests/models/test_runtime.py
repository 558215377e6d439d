"""models.runtime: which engine runs the encoders, and refusing graphs of another checkpoint."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from models import runtime
from models.onnx_encoders import StaleExportError
from models.runtime import load_encoders, onnx_path, resolve
from models.settings import DEFAULT_CHECKPOINT


def test_cpu_runs_on_onnx_runtime_and_cuda_on_pytorch(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve("cpu", "auto") == ("cpu", "onnx")
    assert resolve("cpu", "torch") == ("cpu", "torch")
    assert resolve("cuda", "auto") == ("cuda", "torch")
    monkeypatch.setattr(runtime, "gpu_present", lambda: False)
    assert resolve("auto", "auto") == ("cpu", "onnx")
    monkeypatch.setattr(runtime, "gpu_present", lambda: True)
    assert resolve("auto", "auto") == ("cuda", "torch")
    assert resolve("auto", "onnx") == ("cpu", "onnx")  # asked for ONNX: the CPU, GPU or not


@pytest.mark.parametrize(
    ("device", "engine", "message"),
    [("cuda", "onnx", "CPU only"), ("tpu", "auto", "DEVICE"), ("cpu", "tensorflow", "ENCODER_RUNTIME")],
)
def test_impossible_combinations_are_refused(device: str, engine: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        resolve(device, engine)


def test_the_graphs_sit_beside_the_checkpoint() -> None:
    assert onnx_path(Path("a/b/model.pt"), "audio") == Path("a/b/model.audio.onnx")


def test_a_missing_checkpoint_or_export_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="CHECKPOINT"):
        load_encoders(tmp_path / "absent.pt", "cpu")
    lone = tmp_path / "lone.pt"
    shutil.copy(DEFAULT_CHECKPOINT, lone)
    with pytest.raises(FileNotFoundError, match="python -m training.export"):
        load_encoders(lone, "cpu")


def test_graphs_of_another_checkpoint_are_refused(tmp_path: Path) -> None:
    """A retrained checkpoint beside the old graphs: serving them would index and answer with
    another model than the version it reports."""
    changed = tmp_path / "digitbridge.pt"
    changed.write_bytes(DEFAULT_CHECKPOINT.read_bytes() + b"\0")  # another version, same weights
    for modality in ("image", "audio"):
        shutil.copy(onnx_path(DEFAULT_CHECKPOINT, modality), onnx_path(changed, modality))
    with pytest.raises(StaleExportError, match="training.export"):
        load_encoders(changed, "cpu")


def test_the_onnx_engine_reports_its_checkpoint_and_config() -> None:
    encoders = load_encoders(DEFAULT_CHECKPOINT, "cpu")
    assert (encoders.runtime, encoders.device) == ("onnx", "cpu")
    assert encoders.model_version == runtime.file_version(DEFAULT_CHECKPOINT)
    assert encoders.config.audio.n_mels == 32 and encoders.config.image.size == 28
    embeddings, probs = encoders.classify("audio", np.zeros((3, 1, 32, 64), np.float32))
    assert embeddings.shape == (3, 128) and probs.shape == (3, 10)
    assert np.allclose(np.linalg.norm(embeddings, axis=1), 1, atol=1e-5)
    assert np.allclose(probs.sum(1), 1, atol=1e-5)


def test_both_engines_carry_the_same_unit_prototypes() -> None:
    onnx = load_encoders(DEFAULT_CHECKPOINT, "cpu", "onnx")
    torch_engine = load_encoders(DEFAULT_CHECKPOINT, "cpu", "torch")
    assert onnx.prototypes.shape == (10, 128) and onnx.prototypes.dtype == np.float32
    assert np.allclose(np.linalg.norm(onnx.prototypes, axis=1), 1, atol=1e-6)
    assert np.allclose(onnx.prototypes, torch_engine.prototypes, atol=1e-6)


def test_an_export_without_prototypes_is_refused(tmp_path: Path) -> None:
    """An export older than text queries: the same re-export message as a stale one."""
    import onnx

    copy = tmp_path / "digitbridge.pt"
    shutil.copy(DEFAULT_CHECKPOINT, copy)
    for modality in ("image", "audio"):
        graph = onnx.load(onnx_path(DEFAULT_CHECKPOINT, modality))
        kept = [p for p in graph.metadata_props if p.key != "prototypes"]
        del graph.metadata_props[:]
        graph.metadata_props.extend(kept)
        onnx.save(graph, onnx_path(copy, modality))
    with pytest.raises(StaleExportError, match="prototypes.*training.export"):
        load_encoders(copy, "cpu")
