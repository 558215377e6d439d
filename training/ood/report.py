"""Scores the encoders on the OOD sets: every generated upload goes through the real
`models.preprocess.prepare` and the encoders, and is searched against the validation
galleries (MNIST test, FSDD takes 0-4) with exact cosine search."""

from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from models.audio_preprocess import trim_silence, wave_at_model_rate
from models.media_errors import MediaError
from models.modality import OTHER, Modality
from models.preprocess import prepare
from models.runtime import Encoders
from training.evaluate import embed_bytes, validation_uploads
from training.ood import GENERATOR_VERSION
from training.ood.low_res import IMAGE_CONDITIONS, low_res_digits
from training.ood.recording_conditions import AUDIO_CONDITIONS, condition_speech
from training.ood.rendered_digits import OodImage, rendered_digits
from training.ood.speech import OodAudio, synthetic_speech
from training.retrieval_metrics import ranked_labels

Galleries = dict[Modality, tuple[np.ndarray, np.ndarray]]


def _galleries(encoders: Encoders, data_dir: Path) -> Galleries:
    """Validation galleries embedded exactly as the indexer does: MNIST test and FSDD takes 0-4."""
    uploads = validation_uploads(data_dir)
    return {
        "image": (embed_bytes(encoders, uploads["image_bytes"])[0], uploads["image_labels"]),
        "audio": (embed_bytes(encoders, uploads["audio_bytes"])[0], uploads["audio_labels"]),
    }


SET_METRICS = ("cross_p@1", "cross_p@10", "same_p@10", "classify_acc")  # the original sets' fields
CONDITION_METRICS = (
    "cross_p@1",
    "cross_p@5",
    "cross_p@10",
    "classify_acc",
)  # conditions: top-1/top-5


def _summarise(rows: list[dict[str, Any]], metrics: Sequence[str] = SET_METRICS) -> dict[str, Any]:
    n = len(rows)
    if n == 0:
        return {"n": 0}
    summary: dict[str, Any] = {"n": n, "rejected": sum(r["rejected"] for r in rows)}
    for key in metrics:
        column = "classify_ok" if key == "classify_acc" else key
        summary[key] = round(float(np.mean([r[column] for r in rows])), 4)
    return summary


def _evaluate_queries(
    encoders: Encoders,
    modality: Modality,
    queries: Sequence[OodAudio | OodImage],
    galleries: Galleries,
    groupings: dict[str, Callable[[Any], str]],
    metrics: Sequence[str] = SET_METRICS,
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
            zero = {"cross_p@1": 0.0, "cross_p@5": 0.0, "cross_p@10": 0.0, "same_p@10": 0.0, "classify_ok": 0}
            rows.append({"q": q, "rejected": 1, **zero})
            continue
        if prepared.modality != modality:
            raise AssertionError(f"{q.name} was sniffed as {prepared.modality}, expected {modality}")
        accepted.append(q)
        tensors.append(prepared.tensor)
    for start in range(0, len(tensors), 128):
        batch = np.stack(tensors[start : start + 128])
        embeddings, probs = encoders.classify(modality, batch)
        chunk = accepted[start : start + 128]
        labels = np.array([q.label for q in chunk], np.int64)
        cross_emb, cross_lab = galleries[OTHER[modality]]
        same_emb, same_lab = galleries[modality]
        cross_hits = ranked_labels(embeddings, cross_emb, cross_lab, False)[:, :10] == labels[:, None]
        same_hits = ranked_labels(embeddings, same_emb, same_lab, False)[:, :10] == labels[:, None]
        p1, p5, p10 = cross_hits[:, :1].mean(1), cross_hits[:, :5].mean(1), cross_hits.mean(1)
        s10 = same_hits.mean(1)
        predicted = probs.argmax(axis=1)
        for i, q in enumerate(chunk):
            rows.append(
                {
                    "q": q,
                    "rejected": 0,
                    "cross_p@1": float(p1[i]),
                    "cross_p@5": float(p5[i]),
                    "cross_p@10": float(p10[i]),
                    "same_p@10": float(s10[i]),
                    "classify_ok": int(predicted[i] == q.label),
                    "predicted": int(predicted[i]),
                }
            )
    report: dict[str, Any] = {"overall": _summarise(rows, metrics)}
    for grouping, key_of in {**groupings, "digit": lambda q: str(q.label)}.items():
        buckets: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            buckets[key_of(row["q"])].append(row)
        report[f"by_{grouping}"] = {k: _summarise(v, metrics) for k, v in sorted(buckets.items())}
    wrong = [r for r in rows if not r["rejected"] and not r["classify_ok"]]
    report["misclassified"] = sorted(f"{r['q'].name}->{r['predicted']}" for r in wrong)[:50]
    report["refused"] = refused
    return report


def _trimmed_seconds(clips: Sequence[OodAudio | OodImage], encoders: Encoders) -> float | None:
    """Median length of what trim_silence keeps (1.0 s fills the model's 64 frames; more is squeezed)."""
    params, kept = encoders.config.audio, []
    for clip in clips:
        try:
            trimmed = trim_silence(wave_at_model_rate(clip.bytes, params), params)
            kept.append(trimmed.size / params.sample_rate)
        except MediaError:
            continue
    return round(float(np.median(kept)), 3) if kept else None


def _by_condition(
    encoders: Encoders,
    modality: Modality,
    queries: Sequence[OodAudio | OodImage],
    galleries: Galleries,
    conditions: Sequence[str],
) -> dict[str, Any]:
    """One section per condition (the query's `style`), broken down by source and digit."""

    def source_of(q: OodAudio | OodImage) -> str:
        return q.group if isinstance(q, OodAudio) else q.font

    sections: dict[str, Any] = {}
    for condition in conditions:
        chosen = [q for q in queries if q.style == condition]
        if not chosen:
            continue
        section = _evaluate_queries(
            encoders, modality, chosen, galleries, {"source": source_of}, CONDITION_METRICS
        )
        if modality == "audio":
            section["trimmed_seconds_median"] = {
                source: _trimmed_seconds([q for q in chosen if source_of(q) == source], encoders)
                for source in section["by_source"]
            }
        sections[condition] = section
    return sections


def evaluate_ood(
    encoders: Encoders,
    data_dir: Path,
    cache_dir: Path | None = None,
    speech: Sequence[OodAudio] | None = None,
    digits: Sequence[OodImage] | None = None,
    condition_audio: Sequence[OodAudio] | None = None,
    condition_images: Sequence[OodImage] | None = None,
) -> dict[str, Any]:
    """OOD audio -> MNIST test and OOD image -> FSDD validation, exact cosine search.

    Fields per section: n, rejected (refused by preprocessing, counted as wrong),
    cross_p@1 / cross_p@10 (precision against the other modality's gallery),
    same_p@10 (against the same modality's gallery), classify_acc (classifier head),
    broken down by voice group / upload format / digit, or style / font / digit.

    `conditions` holds one section per recording or image condition, each with
    the fields above plus cross_p@5 (same_p@10 left out), broken down by source (espeak /
    fsdd, mnist / fonts) and digit; audio sections add trimmed_seconds_median per source.
    """
    speech = list(speech if speech is not None else synthetic_speech(cache_dir))
    digits = list(digits if digits is not None else rendered_digits())
    condition_audio = list(
        condition_audio if condition_audio is not None else condition_speech(Path(data_dir))
    )
    condition_images = list(
        condition_images if condition_images is not None else low_res_digits(Path(data_dir))
    )
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
        "conditions": {
            "audio_to_image": _by_condition(encoders, "audio", condition_audio, galleries, AUDIO_CONDITIONS),
            "image_to_audio": _by_condition(encoders, "image", condition_images, galleries, IMAGE_CONDITIONS),
        },
    }
