"""training.upgrade_preprocessing: a checkpoint trained before the weak-edge pass gets it, its
weights untouched, its version and ONNX graphs new."""

import pytest
import torch

from models.encoder_config import AudioParams, EncoderConfig
from models.encoders import load_model
from models.runtime import file_version, load_encoders, onnx_path
from models.settings import DEFAULT_CHECKPOINT
from training.upgrade_preprocessing import WEAK_EDGE_FIELDS, main, upgrade


@pytest.fixture
def old_checkpoint(tmp_path):
    """The committed checkpoint as it was saved before the weak-edge fields existed."""
    path = tmp_path / "old.pt"
    raw = torch.load(DEFAULT_CHECKPOINT, map_location="cpu", weights_only=True)
    for field in WEAK_EDGE_FIELDS:
        raw["config"]["audio"].pop(field, None)
    raw["meta"].pop("preprocessing_upgrades", None)
    torch.save(raw, path)
    return path


def test_a_checkpoint_without_the_fields_keeps_the_level_rule(old_checkpoint):
    assert load_model(old_checkpoint).config.audio.weak_margin_db is None
    assert EncoderConfig.from_dict({}).audio.weak_margin_db is None
    assert EncoderConfig().audio.weak_margin_db == AudioParams().weak_margin_db is not None  # new training


def test_upgrading_adds_the_pass_keeps_the_weights_and_exports_the_graphs(old_checkpoint):
    before_version = file_version(old_checkpoint)
    before = load_model(old_checkpoint).state_dict()
    version = upgrade(old_checkpoint)
    assert version == file_version(old_checkpoint) != before_version
    after = load_model(old_checkpoint)
    assert after.config.audio == AudioParams()
    assert all(torch.equal(before[name], tensor) for name, tensor in after.state_dict().items())
    raw = torch.load(old_checkpoint, map_location="cpu", weights_only=True)
    assert raw["meta"]["preprocessing_upgrades"][-1]["from_version"] == before_version
    onnx = load_encoders(old_checkpoint, "cpu", "onnx")  # refuses graphs of another version
    assert onnx.model_version == version and onnx.config.audio == AudioParams()
    assert onnx_path(old_checkpoint, "audio").exists() and onnx_path(old_checkpoint, "image").exists()


def test_an_upgraded_checkpoint_is_not_upgraded_twice(old_checkpoint):
    upgrade(old_checkpoint)
    upgraded = old_checkpoint.read_bytes()
    with pytest.raises(ValueError, match="already"):
        main([str(old_checkpoint)])
    assert old_checkpoint.read_bytes() == upgraded
