"""The compressed formats through HTTP, against the session's real Weaviate index: FSDD clips
encoded as FLAC, Ogg Vorbis/Opus, WebM Opus, MP3 and M4A AAC find the handwritten digits their
WAVs find; MNIST digits as HEIC and AVIF find what their PNGs find; the routes that take one
modality, the batch and the bounds answer for them as they do for WAV and PNG."""

import io

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from models.data import fsdd_items
from models.encoder_config import AudioParams
from models.preprocess import ACCEPTED
from models.wav import read_wav
from service.settings import ServiceSettings
from tests.encoded_media import (
    AUDIO_ENCODINGS,
    SNIFFED,
    encode_audio,
    encode_picture,
    opus_claiming_channels,
    video_only,
)
from tests.service.helpers import Media

K = 5
PER_DIGIT = 3  # FSDD validation clips per digit: 30 queries per format


def post(client: TestClient, data: bytes, path: str = "/search", **params: object):
    return client.post(path, params=params, files={"file": ("upload.bin", data, "application/octet-stream")})


@pytest.fixture(scope="module")
def clips(small_index: ServiceSettings) -> list[tuple[np.ndarray, int, int, bytes]]:
    """(samples, rate, label, WAV bytes) of PER_DIGIT validation clips per digit."""
    params = AudioParams()
    chosen: dict[int, list] = {}
    for item in fsdd_items(small_index.data_dir, "validation"):
        if len(chosen.setdefault(item.label, [])) < PER_DIGIT:
            chosen[item.label].append(item)
    out = []
    for label in sorted(chosen):
        for item in chosen[label]:
            wav = item.path.read_bytes()
            samples, rate = read_wav(wav, params.min_input_rate, params.max_input_rate, params.max_seconds)
            out.append((samples, rate, label, wav))
    return out


def top5_precision(client: TestClient, blobs: list[bytes], labels: list[int], fmt: str) -> float:
    correct = 0
    for blob, label in zip(blobs, labels, strict=True):
        r = post(client, blob, k=K)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["query"]["modality"] == "audio" and body["query"]["format"] == fmt
        assert body["target"] == "image" and len(body["results"]) == K
        correct += sum(hit["label"] == label for hit in body["results"])
    return correct / (K * len(blobs))


def test_every_audio_format_finds_the_digits_its_wav_finds(client: TestClient, clips) -> None:
    labels = [label for _, _, label, _ in clips]
    wav = top5_precision(client, [w for *_, w in clips], labels, "wav")
    for encoding in AUDIO_ENCODINGS:
        blobs = [encode_audio(samples, rate, encoding) for samples, rate, _, _ in clips]
        got = top5_precision(client, blobs, labels, SNIFFED[encoding])
        print(f"{encoding}: top-5 precision {got:.3f} (WAV {wav:.3f})")
        assert got >= wav - 0.05, (encoding, got, wav)


@pytest.mark.parametrize("fmt", ["heif", "avif"])
def test_heic_and_avif_digits_find_what_their_pngs_find(client: TestClient, media: Media, fmt: str) -> None:
    for png, label in zip(media.pngs, media.png_labels, strict=True):
        digit = np.asarray(Image.open(io.BytesIO(png)))
        r = post(client, encode_picture(Image.fromarray(digit), fmt, quality=90), target="image", k=1)
        assert r.status_code == 200, r.text
        assert r.json()["query"]["format"] == fmt
        reference = post(client, png, target="image", k=1).json()
        assert r.json()["results"][0]["id"] == reference["results"][0]["id"]  # the indexed digit itself
        assert r.json()["query"]["predicted_label"] == reference["query"]["predicted_label"] == label


def test_one_modality_routes_take_the_new_formats_by_their_bytes(
    client: TestClient, clips, media: Media
) -> None:
    samples, rate, _, _ = clips[0]
    webm = encode_audio(samples, rate, "webm-opus")
    assert post(client, webm, "/search/audio").status_code == 200
    wrong = post(client, webm, "/search/image")
    assert wrong.status_code == 415 and wrong.json()["error"]["code"] == "unsupported_media_type"
    digit = np.asarray(Image.open(io.BytesIO(media.pngs[0])))
    heic = encode_picture(Image.fromarray(digit), "heif")
    assert post(client, heic, "/search/image").status_code == 200
    assert post(client, heic, "/search/audio").status_code == 415


def test_the_415_lists_every_accepted_format(client: TestClient) -> None:
    r = post(client, b"\xff\xf1\x50\x80" + bytes(64))  # raw ADTS AAC: not a container we read
    assert r.status_code == 415 and ACCEPTED in r.json()["error"]["message"]
    for name in ("HEIC", "AVIF", "FLAC", "Ogg", "Opus", "WebM", "MP3", "M4A"):
        assert name in ACCEPTED


def test_bounds_answer_4xx_alone_and_in_a_batch(client: TestClient, clips) -> None:
    samples, rate, _, _ = clips[0]
    long = np.zeros(600 * 8000, dtype=np.float32)  # ten minutes: a word, then silence (116 kB of FLAC)
    long[: samples.shape[1]] = samples[0]
    m4a = encode_audio(samples, rate, "m4a-aac")
    cases = [
        (encode_audio(samples, rate, "flac"), 200, None),
        (encode_audio(long, 8000, "flac"), 400, "audio_too_long"),  # decoding stops at 10 s
        (opus_claiming_channels(encode_audio(samples, rate, "ogg-opus"), 50), 400, "invalid_audio"),
        (m4a[: len(m4a) // 2], 400, "invalid_audio"),
        (video_only("webm", "libvpx"), 400, "no_audio_stream"),
    ]
    for data, status, code in cases:
        r = post(client, data)
        assert r.status_code == status, r.text
        if code is not None:
            assert r.json()["error"]["code"] == code
    r = client.post(
        "/search/batch",
        files=[("files", (f"f{i}", d, "application/octet-stream")) for i, (d, *_) in enumerate(cases[1:])],
    )
    assert r.status_code == 200
    assert [(s["status"], s["error"]["code"]) for s in r.json()["results"]] == [
        (s, c) for _, s, c in cases[1:]
    ]
