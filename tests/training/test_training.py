"""The encoders' shapes, the optimisation (a few steps make the loss fall), and training's
inputs: made by the same preprocessing functions indexing and serving call."""

import shutil

import numpy as np
import torch

from models import audio_preprocess, image_preprocess, preprocess
from models.data import fsdd_items, load_mnist, mnist_png
from models.encoder_config import EncoderConfig
from models.encoders import DigitEncoders, load_torch_encoders, save_checkpoint
from models.settings import ModelSettings
from training import train
from training.augment import augment_digits
from training.train import TrainSettings, cross_modal_supcon, loss_fn, spec_augment_batch

CONFIG = EncoderConfig()


def test_embeddings_are_unit_length_and_same_size_for_both_modalities():
    model = DigitEncoders(CONFIG).eval()
    img = model.embed("image", torch.randn(4, 1, 28, 28))
    aud = model.embed("audio", torch.randn(4, 1, CONFIG.audio.n_mels, CONFIG.audio.frames))
    assert img.shape == aud.shape == (4, CONFIG.embed_dim)
    torch.testing.assert_close(img.norm(dim=1), torch.ones(4))
    torch.testing.assert_close(aud.norm(dim=1), torch.ones(4))


def test_supcon_matches_a_hand_computed_case():
    # two images (digits 0, 1) and two clips (0, 1), orthogonal unit vectors, t = 1
    img = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    aud = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    y = torch.tensor([0, 1])
    expected = -torch.log(torch.tensor(torch.e / (torch.e + 1)))  # each row: softmax([1, 0])[0]
    torch.testing.assert_close(cross_modal_supcon(img, aud, y, y, 1.0), expected)


def test_a_few_steps_reduce_the_loss():
    torch.manual_seed(0)
    model = DigitEncoders(CONFIG)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    x_img = torch.randn(32, 1, 28, 28)
    x_aud = torch.randn(32, 1, CONFIG.audio.n_mels, CONFIG.audio.frames)
    y = torch.arange(32) % 10
    args = TrainSettings()
    losses = []
    for _ in range(15):
        loss = loss_fn(model, args, model.embed("image", x_img), model.embed("audio", x_aud), y, y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(float(loss))
    assert losses[-1] < 0.7 * losses[0]


def test_spec_augment_masks_but_keeps_shape():
    x = torch.randn(16, 1, CONFIG.audio.n_mels, CONFIG.audio.frames)
    out = spec_augment_batch(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and not torch.equal(out, x)


def test_checkpoint_round_trip_rebuilds_the_same_model(tmp_path):
    model = DigitEncoders(CONFIG).eval()
    path = tmp_path / "model.pt"
    version = save_checkpoint(model, path, {"note": "test"})
    loaded = load_torch_encoders(path, "cpu")
    assert loaded.model_version == version and loaded.config == CONFIG
    x = torch.randn(3, 1, 28, 28)
    with torch.no_grad():
        expected = model.embed("image", x).numpy()
    torch.testing.assert_close(torch.from_numpy(loaded.embed("image", x.numpy())), torch.from_numpy(expected))


def test_training_inputs_come_from_the_serving_preprocessing(tmp_path, monkeypatch):
    """Perturb the shared preprocessing functions: training's inputs follow, and still
    equal what serving makes of the same uploads. A copy of the steps inside train would not."""
    monkeypatch.setattr(image_preprocess, "MNIST_MEAN", 0.5)
    monkeypatch.setattr(image_preprocess, "MNIST_STD", 0.25)
    trim, trimmed = audio_preprocess.trim_silence, []

    def trim_and_shorten(wave: np.ndarray, params) -> np.ndarray:
        kept = trim(wave, params)
        trimmed.append(kept.size)
        return kept[: kept.size * 3 // 4]

    monkeypatch.setattr(audio_preprocess, "trim_silence", trim_and_shorten)
    data_dir = ModelSettings().data_dir

    images, _ = load_mnist(data_dir, train=False)
    served = torch.from_numpy(
        np.stack([preprocess.prepare(mnist_png(img), CONFIG).tensor for img in images[:8]])
    )
    assert torch.equal(train.image_inputs(images[:8], CONFIG), served)
    digits = train.normalise_mnist(images[:8], CONFIG)
    augmented = train.augmented_image_inputs(digits, torch.Generator().manual_seed(0))
    by_hand = (augment_digits(digits, torch.Generator().manual_seed(0)) - 0.5) / 0.25
    assert torch.equal(augmented, by_hand)

    recordings = tmp_path / "fsdd" / "recordings"
    recordings.mkdir(parents=True)
    for item in fsdd_items(data_dir, "train")[:3]:
        shutil.copy(item.path, recordings / item.name)
    served_clips = [
        torch.as_tensor(preprocess.prepare(p.read_bytes(), CONFIG).tensor)
        for p in sorted(recordings.iterdir())
    ]
    waves, labels = train.load_waves(tmp_path, "train", CONFIG)
    assert len(waves) == len(labels) == 3 and len(trimmed) == 3  # trimmed only by serving so far
    assert torch.equal(train.audio_inputs(waves, CONFIG), torch.stack(served_clips))
    assert len(trimmed) == 6
    augmented_clip = train.AugmentedClips(waves, CONFIG, seed=0, pitch_raise=0.0)[(0, 0)]
    assert augmented_clip.shape == served_clips[0].shape and len(trimmed) == 7


def test_a_frozen_image_encoder_stays_in_eval_mode_through_evaluations():
    """train_only=audio: the image encoder's batch-norm statistics must not follow training batches."""
    from training.selection import embed_all, training_mode

    model = DigitEncoders(CONFIG)
    training_mode(model, "audio")
    assert model.audio.training and not model.image.training
    embed_all(model, "audio", torch.randn(4, 1, CONFIG.audio.n_mels, CONFIG.audio.frames), train_only="audio")
    assert model.audio.training and not model.image.training
    before = model.image.features[1].running_mean.clone()
    model.embed("image", torch.randn(8, 1, 28, 28) * 3 + 1)
    torch.testing.assert_close(model.image.features[1].running_mean, before)
    training_mode(model)
    assert model.image.training
