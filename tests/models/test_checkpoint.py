"""The committed checkpoint: it loads, reproduces the model card's metrics, and treats a
canvas drawing of a digit like the MNIST original it was drawn from.

The metrics come from `training.evaluate.evaluate` itself; the validation set's embeddings
it computes are the session's (tests/conftest.py `remembered_embeddings`): the acceptance
test and the OOD report need the same ones."""

import json
from pathlib import Path

import numpy as np
import pytest

from models.data import load_mnist, mnist_png
from models.preprocess import prepare
from models.runtime import load_encoders
from models.settings import DEFAULT_CHECKPOINT, ModelSettings
from tests.media import canvas_png
from training.evaluate import evaluate

CHECKPOINT = DEFAULT_CHECKPOINT  # the committed one, whatever CHECKPOINT says
METRICS = Path("models/metrics.json")
DATA_DIR = ModelSettings().data_dir


@pytest.fixture(scope="module")
def encoders():
    return load_encoders(CHECKPOINT, "cpu")


def test_checkpoint_is_small_and_is_the_one_the_metrics_describe(encoders):
    assert CHECKPOINT.stat().st_size < 5_000_000
    assert json.loads(METRICS.read_text())["model_version"] == encoders.model_version


@pytest.mark.slow
def test_committed_checkpoint_reproduces_the_model_card_metrics(encoders, remembered_embeddings):
    recorded = json.loads(METRICS.read_text())
    measured = evaluate(encoders, DATA_DIR)
    for direction in ("image_to_audio", "audio_to_image"):
        for key in ("p@1", "p@5", "p@10", "map@r"):
            assert measured[direction][key] == pytest.approx(recorded[direction][key], abs=1e-6)
        assert measured[direction]["per_digit_p@10"] == pytest.approx(
            recorded[direction]["per_digit_p@10"], abs=1e-6
        )
    assert measured["accuracy"] == pytest.approx(recorded["accuracy"], abs=1e-6)
    assert measured["targets_met"] == recorded["targets_met"]


def test_a_canvas_drawing_embeds_next_to_the_mnist_original(encoders):
    images, labels = load_mnist(DATA_DIR, train=False)
    pick = np.arange(0, 10_000, 100)  # 100 test digits
    originals = np.stack([prepare(mnist_png(images[i]), encoders.config).tensor for i in pick])
    canvases = np.stack(
        [prepare(canvas_png(images[i].astype(np.float32) / 255), encoders.config).tensor for i in pick]
    )
    e_orig, p_orig = encoders.classify("image", originals)
    e_canvas, p_canvas = encoders.classify("image", canvases)
    cosine = (e_orig * e_canvas).sum(1)
    assert np.median(cosine) > 0.95 and cosine.min() > 0.5
    assert (p_canvas.argmax(1) == labels[pick]).mean() >= 0.97


@pytest.mark.slow
def test_committed_onnx_graphs_embed_as_the_checkpoint_does(encoders):
    """The graphs serving runs are the checkpoint's own: same version, and the same embeddings
    and classes as PyTorch for validation uploads of both modalities."""
    from models.data import fsdd_items
    from models.runtime import load_encoders

    assert encoders.runtime == "onnx"
    torch_encoders = load_encoders(CHECKPOINT, "cpu", "torch")
    assert torch_encoders.model_version == encoders.model_version
    images, _ = load_mnist(DATA_DIR, train=False)
    uploads = {
        "image": [mnist_png(images[i]) for i in range(0, 10_000, 10)],
        "audio": [item.path.read_bytes() for item in fsdd_items(DATA_DIR, "validation")],
    }
    for modality, blobs in uploads.items():
        batch = np.stack([prepare(data, encoders.config).tensor for data in blobs])
        onnx_emb, onnx_probs = encoders.classify(modality, batch)
        torch_emb, torch_probs = torch_encoders.classify(modality, batch)
        assert (onnx_emb * torch_emb).sum(1).min() >= 0.9999, modality
        assert (onnx_probs.argmax(1) == torch_probs.argmax(1)).all(), modality
