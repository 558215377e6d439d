"""Loss curve and 2-D embedding plots for the model card (matplotlib, no display)."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot_loss(history: list[dict], path: Path) -> None:
    steps = np.array([h["step"] for h in history])
    loss = np.array([h["loss"] for h in history])
    window = max(1, len(loss) // 50)
    smooth = np.convolve(loss, np.ones(window) / window, mode="valid")
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=110)
    ax.plot(steps, loss, alpha=0.25, label="loss per step")
    ax.plot(steps[window - 1 :], smooth, label=f"mean of {window} steps")
    sel = [(h["step"], h["selection"]["score"]) for h in history if "selection" in h]
    if sel:
        ax2 = ax.twinx()
        ax2.plot(*zip(*sel, strict=True), "o-", color="tab:green", label="selection mAP@R")
        ax2.set_ylabel("selection mAP@R (mean of both directions)")
        ax2.legend(loc="center right")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_embeddings(img: np.ndarray, yi: np.ndarray, aud: np.ndarray, ya: np.ndarray, path: Path) -> None:
    """PCA of both modalities together; colour = digit, marker = modality."""
    both = np.concatenate([img, aud])
    centred = both - both.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    xy = centred @ vt[:2].T
    fig, ax = plt.subplots(figsize=(6, 6), dpi=110)
    cmap = plt.get_cmap("tab10")
    n = len(img)
    ax.scatter(xy[:n, 0], xy[:n, 1], c=[cmap(int(d)) for d in yi], s=4, alpha=0.4, marker="o")
    ax.scatter(
        xy[n:, 0],
        xy[n:, 1],
        c=[cmap(int(d)) for d in ya],
        s=40,
        marker="^",
        edgecolors="black",
        linewidths=0.4,
    )
    for d in range(10):
        ax.scatter([], [], color=cmap(d), label=str(d))
    ax.scatter([], [], marker="o", color="grey", label="image")
    ax.scatter([], [], marker="^", color="grey", edgecolors="black", label="audio")
    ax.legend(ncol=2, fontsize=7, loc="best")
    ax.set_title("Embeddings (PCA): colour = digit, o = image, ^ = audio")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
