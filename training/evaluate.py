"""Evaluate a checkpoint on the validation splits: `python -m training.evaluate --json PATH`.

Exact cosine search (no index) between MNIST test (10,000 images, uploaded as PNG
bytes) and FSDD validation (takes 0-4, 300 WAV files), through the same
`models.preprocess.prepare` path an upload takes. JSON fields:

- `image_to_audio`, `audio_to_image`: cross-modal retrieval. `p@1`, `p@5`, `p@10` =
  share of the top-k results carrying the query's digit; `map@r` = mean average
  precision at R, R = number of gallery items of the query's digit (30 audio clips or
  ~1,000 images); `per_digit_p@10` = P@10 per query digit.
- `image_to_image`, `audio_to_audio`: within-modality P@10 (the query itself excluded).
- `accuracy`: top-1 accuracy of the prototype classifier per modality.
- `model_version`, `checkpoint`, `counts`, `targets` (the acceptance thresholds) and
  `targets_met`.
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models.data import fsdd_items, load_mnist, mnist_png
from models.encoders import LoadedEncoders, load_encoders
from models.preprocess import prepare
from models.settings import add_model_arguments
from training.retrieval_metrics import retrieval_metrics, topk_precision

TARGETS = {
    "image_to_audio.p@10": 0.995,
    "audio_to_image.p@10": 0.99,
    "image_to_audio.map@r": 0.98,
    "audio_to_image.map@r": 0.98,
}


def embed_bytes(
    encoders: LoadedEncoders, blobs: list[bytes], batch: int = 512
) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings and class probabilities of uploads of one modality, in order."""
    embs, probs = [], []
    for start in range(0, len(blobs), batch):
        prepared = [prepare(b, encoders.config) for b in blobs[start : start + batch]]
        modality = prepared[0].modality
        e, p = encoders.classify(modality, torch.stack([torch.as_tensor(q.tensor) for q in prepared]))
        embs.append(e)
        probs.append(p)
    return np.concatenate(embs), np.concatenate(probs)


def validation_uploads(data_dir: Path) -> dict:
    """The validation splits as the bytes an uploader would send, with labels."""
    images, image_labels = load_mnist(data_dir, train=False)
    clips = fsdd_items(data_dir, "validation")
    return {
        "image_bytes": [mnist_png(img) for img in images],
        "image_labels": image_labels,
        "audio_bytes": [item.path.read_bytes() for item in clips],
        "audio_labels": np.array([item.label for item in clips]),
    }


def evaluate(encoders: LoadedEncoders, data_dir: Path) -> dict:
    uploads = validation_uploads(data_dir)
    yi, ya = uploads["image_labels"], uploads["audio_labels"]
    ei, pi = embed_bytes(encoders, uploads["image_bytes"])
    ea, pa = embed_bytes(encoders, uploads["audio_bytes"])
    result: dict[str, Any] = {
        "model_version": encoders.model_version,
        "counts": {"image": len(yi), "audio": len(ya)},
        "image_to_audio": retrieval_metrics(ei, yi, ea, ya),
        "audio_to_image": retrieval_metrics(ea, ya, ei, yi),
        "image_to_image": {"p@10": topk_precision(ei, yi, ei, yi, k=10, exclude_self=True)},
        "audio_to_audio": {"p@10": topk_precision(ea, ya, ea, ya, k=10, exclude_self=True)},
        "accuracy": {
            "image": float((pi.argmax(1) == yi).mean()),
            "audio": float((pa.argmax(1) == ya).mean()),
        },
        "targets": TARGETS,
    }
    result["targets_met"] = all(
        result[key.split(".")[0]][key.split(".")[1]] >= value for key, value in TARGETS.items()
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Evaluate the encoders on the validation splits.")
    add_model_arguments(parser)
    parser.add_argument("--json", type=Path, help="write the metrics here (else print them)")
    args = parser.parse_args(argv)
    encoders = load_encoders(args.checkpoint, args.device)
    result = evaluate(encoders, args.data_dir)
    result["checkpoint"] = str(args.checkpoint)
    text = json.dumps(result, indent=2)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    else:
        sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
