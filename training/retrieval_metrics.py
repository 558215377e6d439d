"""Retrieval metrics for exact cosine search over L2-normalised embeddings."""

import numpy as np


def ranked_labels(
    queries: np.ndarray, gallery: np.ndarray, gallery_labels: np.ndarray, exclude_self: bool
) -> np.ndarray:
    """(Q, G) gallery labels ordered by descending cosine similarity per query."""
    sims = queries @ gallery.T
    if exclude_self:  # within-modality search: a query is not its own answer
        np.fill_diagonal(sims, -np.inf)
    order = np.argsort(-sims, axis=1, kind="stable")
    return gallery_labels[order]


def retrieval_metrics(
    queries: np.ndarray,
    query_labels: np.ndarray,
    gallery: np.ndarray,
    gallery_labels: np.ndarray,
    exclude_self: bool = False,
    ks: tuple[int, ...] = (1, 5, 10),
) -> dict:
    """Precision@k, mAP@R (R = number of relevant gallery items) and per-digit P@10."""
    ranked = ranked_labels(queries, gallery, gallery_labels, exclude_self)
    hits = ranked == query_labels[:, None]  # (Q, G) bool
    out: dict = {f"p@{k}": float(hits[:, :k].mean()) for k in ks}
    relevant = np.array([(gallery_labels == y).sum() - int(exclude_self) for y in query_labels])
    ap = np.empty(len(queries))
    for i, r in enumerate(relevant):
        top = hits[i, :r]
        precision_at_hit = np.cumsum(top) / np.arange(1, r + 1)
        ap[i] = float((precision_at_hit * top).sum() / r)
    out["map@r"] = float(ap.mean())
    out["per_digit_p@10"] = {
        str(d): float(hits[query_labels == d, :10].mean()) for d in np.unique(query_labels)
    }
    return out


def topk_precision(
    queries: np.ndarray,
    query_labels: np.ndarray,
    gallery: np.ndarray,
    gallery_labels: np.ndarray,
    k: int = 10,
    exclude_self: bool = False,
    chunk: int = 2048,
) -> float:
    """P@k without sorting the whole gallery (used for 10k x 10k image->image)."""
    correct = 0
    for start in range(0, len(queries), chunk):
        sims = queries[start : start + chunk] @ gallery.T
        if exclude_self:
            rows = np.arange(sims.shape[0])
            sims[rows, rows + start] = -np.inf
        top = np.argpartition(-sims, k, axis=1)[:, :k]
        correct += int((gallery_labels[top] == query_labels[start : start + chunk, None]).sum())
    return correct / (len(queries) * k)
