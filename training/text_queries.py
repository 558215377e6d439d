"""Which query vector finds a typed digit's items best: the class prototype, or a class mean?

    python -m training.text_queries [--checkpoint ...] [--data-dir ...]

For each digit and each modality (MNIST test images, FSDD validation clips, embedded in
process by the checkpoint), ranks that modality's items by cosine similarity to the query
vector and reports precision@5/@10/@50 of the digit's own items and average precision over
all of them. Three query vectors: the shared prototype; the mean embedding of the class in
that modality (what an index could compute per modality); the mean over both modalities
(one vector for target=any). The means are taken over the very items ranked, so they are
what the index itself would yield, not a held-out estimate.
"""

import sys
from pathlib import Path

import numpy as np
from pydantic_settings import CliApp, SettingsConfigDict

from models.modality import MODALITIES, Modality
from models.runtime import Encoders, load_encoders
from models.settings import ModelSettings
from training.evaluate import embed_bytes, validation_uploads

CUTOFFS = (5, 10, 50)
QUERIES = ("prototype", "class_mean", "both_mean")


def unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=-1, keepdims=True)


def ranking_scores(query: np.ndarray, embeddings: np.ndarray, relevant: np.ndarray) -> dict[str, float]:
    """precision@k for CUTOFFS and average precision of `relevant` items ranked by similarity."""
    order = np.argsort(-(embeddings @ query), kind="stable")
    hits = relevant[order].astype(np.float64)
    scores = {f"p@{k}": float(hits[:k].mean()) for k in CUTOFFS}
    ranks = np.flatnonzero(hits) + 1
    scores["ap"] = float((np.arange(1, len(ranks) + 1) / ranks).mean())
    return scores


def compare(encoders: Encoders, data_dir: Path) -> dict[Modality, dict[str, np.ndarray]]:
    """modality -> query kind -> (10 digits, p@5, p@10, p@50, ap)."""
    uploads = validation_uploads(data_dir)
    embedded = {m: embed_bytes(encoders, uploads[f"{m}_bytes"])[0] for m in MODALITIES}
    labels = {m: np.asarray(uploads[f"{m}_labels"]) for m in MODALITIES}
    means = {m: unit(np.stack([embedded[m][labels[m] == d].mean(0) for d in range(10)])) for m in MODALITIES}
    vectors = {
        "prototype": dict.fromkeys(MODALITIES, encoders.prototypes),
        "class_mean": means,
        "both_mean": {m: unit(means["image"] + means["audio"]) for m in MODALITIES},
    }
    table: dict[Modality, dict[str, np.ndarray]] = {}
    for m in MODALITIES:
        table[m] = {}
        for kind in QUERIES:
            rows = [ranking_scores(vectors[kind][m][d], embedded[m], labels[m] == d) for d in range(10)]
            table[m][kind] = np.array([[r[f"p@{k}"] for k in CUTOFFS] + [r["ap"]] for r in rows])
    return table


def _row(modality: str, kind: str, digit: str, row: np.ndarray) -> str:
    # AP to four places: the query vectors differ by a handful of items in thousands
    cells = [f"{v:.3f}" for v in row[:-1]] + [f"{row[-1]:.4f}"]
    return f"{modality:<9} {kind:<11} {digit:>5}  " + "  ".join(cells)


def render(table: dict[Modality, dict[str, np.ndarray]]) -> str:
    lines = ["modality  query       digit  " + "  ".join(f"p@{k:<3}" for k in CUTOFFS) + "  AP"]
    for m, kinds in table.items():
        for kind, rows in kinds.items():
            lines += [_row(m, kind, str(d), row) for d, row in enumerate(rows)]
            lines.append(_row(m, kind, "mean", rows.mean(0)))
    return "\n".join(lines)


class TextQuerySettings(ModelSettings):
    """Compares the prototype and class means as query vectors. Each option is also an env var."""

    model_config = SettingsConfigDict(cli_prog_name="python -m training.text_queries")


def main(argv: list[str] | None = None) -> None:
    settings = CliApp.run(TextQuerySettings, cli_args=argv)
    encoders = load_encoders(settings.checkpoint, "cpu")
    sys.stdout.write(render(compare(encoders, settings.data_dir)) + "\n")


if __name__ == "__main__":
    main()
