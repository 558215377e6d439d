"""The store tests' shared toy collection on the session's real Weaviate."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import weaviate
from weaviate.classes.data import DataObject
from weaviate.collections import Collection

import store
from tests.store.toy_vectors import unit


@pytest.fixture(scope="module")
def toy(
    weaviate_settings: store.StoreSettings, weaviate_client: weaviate.WeaviateClient
) -> Iterator[Collection]:
    """40 objects, half image, half audio, random unit vectors; a duplicate pair to exercise ties."""
    settings = weaviate_settings.model_copy(update={"collection": "StoreToy"})
    if weaviate_client.collections.exists(settings.collection):
        weaviate_client.collections.delete(settings.collection)
    collection = store.ensure_collection(weaviate_client, settings)
    rng = np.random.default_rng(0)
    vectors = [unit(rng) for _ in range(40)]
    vectors[1] = vectors[0]  # an exact tie (an image and an audio object) for the paging test
    objects = []
    for i, vec in enumerate(vectors):
        modality = "image" if i % 2 == 0 else "audio"
        objects.append(
            DataObject(
                uuid=store.object_uuid("toy", "t", str(i)),
                vector=vec,
                properties={
                    "modality": modality,
                    "label": i % 10,
                    "source": "toy",
                    "split": "t",
                    "name": str(i),
                    "speaker": "x" if modality == "audio" else None,
                    "media": "aGVsbG8=",
                    "model_version": "toyversion01",
                },
            )
        )
    result = collection.data.insert_many(objects)
    assert not result.errors
    store.wait_indexed(weaviate_client, settings.collection)  # async indexing: searches see them now
    yield collection
    weaviate_client.collections.delete(settings.collection)
