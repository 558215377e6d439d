"""Retrieval in every accepted compressed format is as good as in WAV and PNG.

All 300 FSDD validation clips (takes 0-4) are encoded in each audio format (tests/encoded_media.py:
FFmpeg's encoders at speech bit rates) and searched against the 10,000 MNIST test images; 1,000
MNIST test digits are encoded as HEIC and AVIF and searched against the 300 clips. Top-5 label
precision (exact cosine search, the upload path models.preprocess.prepare) is printed as a table
(README's formats section quotes it) and must stay within a point of the WAV / PNG figure.
`pytest -s tests/models/test_format_retrieval.py` shows the table.
"""

import numpy as np
import pytest
from PIL import Image

from models.data import fsdd_items, load_mnist, mnist_png
from models.encoder_config import EncoderConfig
from models.runtime import load_encoders
from models.settings import DataSettings
from models.wav import read_wav
from tests.conftest import REPO_CHECKPOINT
from tests.encoded_media import AUDIO_ENCODINGS, encode_audio, encode_picture
from tests.full_set import EmbeddingMemo

K = 5
N_IMAGES = 1000
TOLERANCE = 0.01  # a point of precision: 3 of 1,500 results for the clips


def precision_at_k(
    queries: np.ndarray, labels: np.ndarray, gallery: np.ndarray, gallery_labels: np.ndarray
) -> float:
    top = np.argsort(-(queries @ gallery.T), axis=1, kind="stable")[:, :K]
    return float((gallery_labels[top] == labels[:, None]).mean())


@pytest.mark.slow
def test_every_format_retrieves_as_well_as_wav_and_png(embedding_memo: EmbeddingMemo) -> None:
    data_dir = DataSettings().data_dir
    encoders = load_encoders(REPO_CHECKPOINT, "cpu")
    params = EncoderConfig().audio
    images, image_labels = load_mnist(data_dir, train=False)
    clips = fsdd_items(data_dir, "validation")
    assert len(clips) == 300 and {c.take for c in clips} == set(range(5))
    wavs = [c.path.read_bytes() for c in clips]
    clip_labels = np.array([c.label for c in clips])
    image_gallery = embedding_memo.embed_bytes(encoders, [mnist_png(img) for img in images])[0]
    audio_gallery = embedding_memo.embed_bytes(encoders, wavs)[0]

    rows = {"wav": precision_at_k(audio_gallery, clip_labels, image_gallery, image_labels)}
    for encoding in AUDIO_ENCODINGS:
        encoded = [
            encode_audio(
                *read_wav(w, params.min_input_rate, params.max_input_rate, params.max_seconds), encoding
            )
            for w in wavs
        ]
        queries = embedding_memo.embed_bytes(encoders, encoded)[0]
        rows[encoding] = precision_at_k(queries, clip_labels, image_gallery, image_labels)

    picks = np.random.default_rng(0).choice(len(images), N_IMAGES, replace=False)
    digits, digit_labels = images[picks], image_labels[picks]
    pictures = {"png": [mnist_png(d) for d in digits]}
    pictures |= {fmt: [encode_picture(Image.fromarray(d), fmt) for d in digits] for fmt in ("heif", "avif")}
    for fmt, blobs in pictures.items():
        queries = embedding_memo.embed_bytes(encoders, blobs)[0]
        rows[fmt] = precision_at_k(queries, digit_labels, audio_gallery, clip_labels)

    print(f"\n{'format':<12} {'top-5 precision':>16}  vs reference")
    for name, value in rows.items():
        reference = rows["png"] if name in pictures else rows["wav"]
        print(f"{name:<12} {value:>16.4f}  {value - reference:+.4f}")
    for name, value in rows.items():
        reference = rows["png"] if name in pictures else rows["wav"]
        assert value >= reference - TOLERANCE, (name, value, reference)
