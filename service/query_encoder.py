"""Uploaded bytes -> embedding, with concurrent uploads of one modality sharing a forward pass.

Decoding and the forward pass run on one worker thread per modality (service.micro_batch):
the event loop keeps parsing HTTP and talking to Weaviate while that thread works, and
under load every upload that arrived during a pass is decoded and embedded in the next one.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from prometheus_client import Histogram

from models.encoders import LoadedEncoders
from models.media_errors import MediaError, UnsupportedMediaError
from models.modality import MODALITIES, Modality
from models.preprocess import PreparedQuery, prepare, sniff
from service.micro_batch import MicroBatcher


@dataclass(frozen=True)
class EncodedQuery:
    modality: Modality
    format: str
    embedding: np.ndarray  # (embed_dim,), unit length
    probs: np.ndarray  # (classes,) of the prototype classifier
    decode_ms: float
    embed_ms: float  # this upload's share of its batch's forward pass


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)


class QueryEncoder:
    def __init__(
        self,
        encoders: LoadedEncoders,
        max_batch: int,
        max_wait_s: float,
        batch_sizes: Histogram | None = None,  # observes each forward pass's size, per modality
    ) -> None:
        self.encoders = encoders
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
        """Raises the upload's MediaError (wrong type, broken, silent ...) for the caller to map."""
        modality, fmt = sniff(data)  # a few bytes' look, on the loop: picks the batcher
        if only is not None and modality != only:
            raise UnsupportedMediaError(
                f"this endpoint takes {only} files, the upload is {modality} ({fmt}); "
                f"use /search/{modality} or /search"
            )
        outcome = await self.batchers[modality].submit(data)
        if isinstance(outcome, MediaError):
            raise outcome
        return outcome

    def _encode_batch(self, modality: Modality, uploads: Sequence[bytes]) -> list[EncodedQuery | MediaError]:
        """On the batcher's thread: decode each upload, then one forward pass for the good ones."""
        outcomes: list[EncodedQuery | MediaError | None] = [None] * len(uploads)
        prepared: dict[int, tuple[PreparedQuery, float]] = {}
        for i, data in enumerate(uploads):
            t0 = time.perf_counter()
            try:
                prepared[i] = prepare(data, self.encoders.config), _ms(time.perf_counter() - t0)
            except MediaError as exc:
                outcomes[i] = exc  # this upload's own error; the others go on
        if prepared:
            t0 = time.perf_counter()
            tensors = torch.stack([query.tensor for query, _ in prepared.values()])
            embeddings, probs = self.encoders.classify(modality, tensors)
            embed_ms = _ms((time.perf_counter() - t0) / len(prepared))
            for row, (i, (query, decode_ms)) in enumerate(prepared.items()):
                outcomes[i] = EncodedQuery(
                    query.modality, query.format, embeddings[row], probs[row], decode_ms, embed_ms
                )
        return [o for o in outcomes if o is not None]

    def close(self) -> None:
        for batcher in self.batchers.values():
            batcher.close()
