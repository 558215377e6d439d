"""The reader: what the indexer stores, one `Record` per item of the validation sets.

MNIST test images become the PNG bytes the index stores and serves; FSDD validation
recordings keep their original WAV bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import store
from models.modality import Modality


@dataclass(frozen=True)
class Record:
    source: str
    split: str
    name: str
    label: int
    modality: Modality
    media: bytes
    speaker: str | None = None

    @property
    def key(self) -> str:
        return f"{self.source}/{self.split}/{self.name}"

    @property
    def uuid(self) -> str:
        return str(store.object_uuid(self.source, self.split, self.name))


def read_mnist(data_dir: Path, limit: int | None) -> Iterator[Record]:
    from models.data import load_mnist, mnist_png

    images, labels = load_mnist(data_dir, train=False)
    for i in range(len(images) if limit is None else min(limit, len(images))):
        yield Record("mnist", "test", str(i), int(labels[i]), "image", mnist_png(images[i]))


def read_fsdd(data_dir: Path, limit: int | None) -> Iterator[Record]:
    from models.data import fsdd_items

    for item in fsdd_items(data_dir, "validation")[:limit]:
        yield Record(
            "fsdd", "validation", item.name, item.label, "audio", item.path.read_bytes(), item.speaker
        )


READERS = {"mnist": read_mnist, "fsdd": read_fsdd}


def read(sources: list[str], data_dir: Path, limit: int | None) -> list[Record]:
    """Every record of `sources` (at most `limit` per source)."""
    return [r for source in sources for r in READERS[source](data_dir, limit)]
