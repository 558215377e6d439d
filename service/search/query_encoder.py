"""Uploaded bytes -> embedding: preprocessing in its own bounded lanes (service.search.preprocess_pool),
then concurrent uploads of one modality share a forward pass (service.search.micro_batch).

The forward passes run on one worker thread per modality and never decode anything, so a
slow upload cannot hold them up; under load every tensor that arrived during a pass is
embedded in the next one. The event loop keeps parsing HTTP and talking to Weaviate meanwhile.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from prometheus_client import Histogram

from models.media_errors import UnsupportedMediaError
from models.modality import MODALITIES, Modality
from models.preprocess import PreparedQuery, sniff
from models.runtime import Encoders
from service.search.micro_batch import MicroBatcher
from service.search.preprocess_pool import PreprocessPool


@dataclass(frozen=True)
class EncodedQuery:
    modality: Modality
    format: str
    embedding: np.ndarray  # (embed_dim,), unit length
    probs: np.ndarray  # (classes,) of the prototype classifier
    decode_ms: float
    embed_ms: float  # this upload's share of its batch's forward pass


def milliseconds(seconds: float) -> float:
    """A duration as the answers' timings report it."""
    return round(seconds * 1000.0, 3)


class QueryEncoder:
    def __init__(
        self,
        encoders: Encoders,
        preprocess: PreprocessPool,
        max_batch: int,
        max_wait_s: float,
        batch_sizes: Histogram | None = None,  # observes each forward pass's size, per modality
    ) -> None:
        self.encoders = encoders
        self.preprocess = preprocess
        self.batchers = {
            modality: MicroBatcher(
                functools.partial(self._encode_batch, modality),
                max_batch,
                max_wait_s,
                f"encode-{modality}",
                on_batch=batch_sizes.labels(modality).observe if batch_sizes is not None else None,
            )
            for modality in MODALITIES
        }

    async def encode(self, data: bytes, only: Modality | None = None) -> EncodedQuery:
        """Raises the upload's MediaError (wrong type, broken, silent, too complex ...) for the
        caller to map, or HeavyLaneFull when the lane for large uploads is full."""
        modality, fmt = sniff(data)  # a few bytes' look, on the loop: picks the batcher
        if only is not None and modality != only:
            raise UnsupportedMediaError(
                f"this endpoint takes {only} files, the upload is {modality} ({fmt}); "
                f"use /search/{modality} or /search"
            )
        t0 = time.perf_counter()
        prepared = await self.preprocess.prepare(data, modality, fmt)
        decode_ms = milliseconds(time.perf_counter() - t0)
        embedding, probs, embed_ms = await self.batchers[modality].submit(prepared)
        return EncodedQuery(prepared.modality, prepared.format, embedding, probs, decode_ms, embed_ms)

    def _encode_batch(
        self, modality: Modality, queries: Sequence[PreparedQuery]
    ) -> list[tuple[np.ndarray, np.ndarray, float]]:
        """On the batcher's thread: one forward pass for the prepared uploads of one modality."""
        t0 = time.perf_counter()
        embeddings, probs = self.encoders.classify(modality, np.stack([q.tensor for q in queries]))
        embed_ms = milliseconds((time.perf_counter() - t0) / len(queries))
        return [(embeddings[row], probs[row], embed_ms) for row in range(len(queries))]

    def close(self) -> None:
        self.preprocess.close()
        for batcher in self.batchers.values():
            batcher.close()
