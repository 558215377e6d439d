"""The full validation set (10,000 MNIST test images + 300 FSDD clips), paid for once per session.

Several tests need all of it: the indexer's full run, HTTP retrieval quality, the supervised
server's recovery, the model card's metrics, the OOD report. Embedding it costs ~20 s of CPU
and indexing it ~30 s more, so a session does each once (tests/conftest.py: `full_index`,
`embedding_memo`; SHARED_SESSION puts those tests on one xdist worker):

* `EmbeddingMemo.embed_bytes` is `training.evaluate.embed_bytes` remembered: the same engine
  and checkpoint (model version) on the same upload bytes give the same arrays, so the second
  caller gets a copy of the first result instead of computing it again.
* `copy_index` fills a collection on another server with the objects of an existing index as
  stored (properties, media, vectors), for tests whose subject is a server holding the full
  index rather than the indexer that built it.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

import numpy as np
from weaviate.classes.data import DataObject
from weaviate.collections import Collection

import store
from models.runtime import Encoders
from training.evaluate import embed_bytes as _embed_bytes  # the real one, bound before any patch

Embedded = tuple[np.ndarray, np.ndarray]  # embeddings, class probabilities


class EmbeddingMemo:
    def __init__(self) -> None:
        self._seen: dict[tuple[str, str, int], list[tuple[list[bytes], Embedded]]] = {}
        self.computed = 0  # how many sets were embedded for real

    def embed_bytes(self, encoders: Encoders, blobs: list[bytes], batch: int = 512) -> Embedded:
        """What `training.evaluate.embed_bytes(encoders, blobs, batch)` returns."""
        seen = self._seen.setdefault((encoders.model_version, encoders.runtime, batch), [])
        for known, (embeddings, probs) in seen:
            if known == blobs:
                return embeddings.copy(), probs.copy()
        embeddings, probs = _embed_bytes(encoders, blobs, batch)
        self.computed += 1
        seen.append((list(blobs), (embeddings.copy(), probs.copy())))
        return embeddings, probs


def copy_index(source: Collection, settings: store.StoreSettings, batch: int = 256) -> int:
    """Every object of `source` into `settings.collection` on the server `settings` names,
    created as the indexer creates it; returns how many objects were written."""
    client = store.connect(settings)
    try:
        target = store.ensure_collection(client, settings)
        pending: list[DataObject] = []
        written = 0

        def flush(objects: Sequence[DataObject]) -> int:
            result = target.data.insert_many(list(objects))
            assert not result.errors, list(result.errors.values())[:3]
            return len(objects)

        properties = [*store.METADATA_PROPERTIES, "media"]
        for obj in source.iterator(include_vector=True, return_properties=properties, cache_size=1000):
            vector = obj.vector["default"] if isinstance(obj.vector, dict) else obj.vector
            values = dict(obj.properties)
            if isinstance(values["media"], bytes):  # blobs travel base64-encoded (indexer.pipeline)
                values["media"] = base64.b64encode(values["media"]).decode("ascii")
            pending.append(DataObject(uuid=obj.uuid, properties=values, vector=list(vector)))
            if len(pending) == batch:
                written += flush(pending)
                pending = []
        if pending:
            written += flush(pending)
        return written
    finally:
        client.close()
