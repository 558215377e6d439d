"""Scores the encoders on the OOD sets: every generated upload goes through the real
`models.preprocess.prepare` and the encoders, and is searched against the validation
galleries (MNIST test, FSDD takes 0-4) with exact cosine search."""

from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models.encoders import LoadedEncoders
from models.evaluate import embed_bytes, validation_uploads
from models.media_errors import MediaError
from models.modality import OTHER, Modality
from models.ood import GENERATOR_VERSION
from models.ood.rendered_digits import OodImage, rendered_digits
from models.ood.speech import OodAudio, synthetic_speech
from models.preprocess import prepare
from models.retrieval_metrics import ranked_labels

Galleries = dict[Modality, tuple[np.ndarray, np.ndarray]]


def _galleries(encoders: LoadedEncoders, data_dir: Path) -> Galleries:
    """Validation galleries embedded exactly as the indexer does: MNIST test and FSDD takes 0-4."""
    uploads = validation_uploads(data_dir)
    return {
        "image": (embed_bytes(encoders, uploads["image_bytes"])[0], uploads["image_labels"]),
        "audio": (embed_bytes(encoders, uploads["audio_bytes"])[0], uploads["audio_labels"]),
    }


def _summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(rows)
    if n == 0:
        return {"n": 0}

    def mean(key: str) -> float:
        return round(float(np.mean([r[key] for r in rows])), 4)

    return {
        "n": n,
        "rejected": sum(r["rejected"] for r in rows),
        "cross_p@1": mean("cross_p@1"),
        "cross_p@10": mean("cross_p@10"),
        "same_p@10": mean("same_p@10"),
        "classify_acc": mean("classify_ok"),
    }


def _evaluate_queries(
    encoders: LoadedEncoders,
    modality: Modality,
    queries: Sequence[OodAudio | OodImage],
    galleries: Galleries,
    groupings: dict[str, Callable[[Any], str]],
) -> dict[str, Any]:
    """Per-query metrics; a query that preprocessing refuses counts as wrong everywhere."""
    rows: list[dict[str, Any]] = []
    accepted, tensors = [], []
    refused: list[dict[str, str]] = []
    for q in queries:
        try:
            prepared = prepare(q.bytes, encoders.config)
        except MediaError as exc:
            refused.append({"name": q.name, "code": exc.code, "message": exc.message})
            zero = {"cross_p@1": 0.0, "cross_p@10": 0.0, "same_p@10": 0.0, "classify_ok": 0}
            rows.append({"q": q, "rejected": 1, **zero})
            continue
        if prepared.modality != modality:
            raise AssertionError(f"{q.name} was sniffed as {prepared.modality}, expected {modality}")
        accepted.append(q)
        tensors.append(prepared.tensor)
    for start in range(0, len(tensors), 128):
        batch = torch.stack(tensors[start : start + 128])
        embeddings, probs = encoders.classify(modality, batch)
        chunk = accepted[start : start + 128]
        labels = np.array([q.label for q in chunk], np.int64)
        cross_emb, cross_lab = galleries[OTHER[modality]]
        same_emb, same_lab = galleries[modality]
        cross_hits = ranked_labels(embeddings, cross_emb, cross_lab, False)[:, :10] == labels[:, None]
        same_hits = ranked_labels(embeddings, same_emb, same_lab, False)[:, :10] == labels[:, None]
        p1, p10, s10 = cross_hits[:, :1].mean(1), cross_hits.mean(1), same_hits.mean(1)
        predicted = probs.argmax(axis=1)
        for i, q in enumerate(chunk):
            rows.append(
                {
                    "q": q,
                    "rejected": 0,
                    "cross_p@1": float(p1[i]),
                    "cross_p@10": float(p10[i]),
                    "same_p@10": float(s10[i]),
                    "classify_ok": int(predicted[i] == q.label),
                    "predicted": int(predicted[i]),
                }
            )
    report: dict[str, Any] = {"overall": _summarise(rows)}
    for grouping, key_of in {**groupings, "digit": lambda q: str(q.label)}.items():
        buckets: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            buckets[key_of(row["q"])].append(row)
        report[f"by_{grouping}"] = {k: _summarise(v) for k, v in sorted(buckets.items())}
    wrong = [r for r in rows if not r["rejected"] and not r["classify_ok"]]
    report["misclassified"] = sorted(f"{r['q'].name}->{r['predicted']}" for r in wrong)[:50]
    report["refused"] = refused
    return report


def evaluate_ood(
    encoders: LoadedEncoders,
    data_dir: Path,
    cache_dir: Path | None = None,
    speech: Sequence[OodAudio] | None = None,
    digits: Sequence[OodImage] | None = None,
) -> dict[str, Any]:
    """OOD audio -> MNIST test and OOD image -> FSDD validation, exact cosine search.

    Fields per section: n, rejected (refused by preprocessing, counted as wrong),
    cross_p@1 / cross_p@10 (precision against the other modality's gallery),
    same_p@10 (against the same modality's gallery), classify_acc (classifier head),
    broken down by voice group / upload format / digit, or style / font / digit.
    """
    speech = list(speech if speech is not None else synthetic_speech(cache_dir))
    digits = list(digits if digits is not None else rendered_digits())
    galleries = _galleries(encoders, Path(data_dir))
    return {
        "model_version": encoders.model_version,
        "generator_version": GENERATOR_VERSION,
        "galleries": {m: int(len(lab)) for m, (_, lab) in galleries.items()},
        "audio_to_image": _evaluate_queries(
            encoders,
            "audio",
            speech,
            galleries,
            {"voice_group": lambda q: q.group, "upload": lambda q: q.style},
        ),
        "image_to_audio": _evaluate_queries(
            encoders, "image", digits, galleries, {"style": lambda q: q.style, "font": lambda q: q.font}
        ),
    }
