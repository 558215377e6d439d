"""store against a real Weaviate: schema, queries, paging, errors, server sharing."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import numpy as np
import pytest
import weaviate
from weaviate.classes.config import DataType, VectorDistances
from weaviate.collections import Collection

import store
from store.embedded import server
from tests.store.toy_vectors import DIM, unit
from tests.weaviate_server import embedded_settings, free_port, wait_closed


def test_schema_is_as_specified(toy: Collection) -> None:
    config = toy.config.get()
    props = {p.name: p for p in config.properties}
    assert set(props) == {"modality", "label", "source", "split", "name", "speaker", "media", "model_version"}
    assert props["modality"].data_type == DataType.TEXT and props["modality"].index_filterable
    assert props["label"].data_type == DataType.INT and props["label"].index_filterable
    assert props["media"].data_type == DataType.BLOB
    vector = config.vector_config["default"]
    assert vector.vectorizer.vectorizer.value == "none"  # we bring our own vectors
    assert config.vector_config["default"].vector_index_config.distance_metric == VectorDistances.COSINE
    assert type(vector.vector_index_config).__name__ == "_VectorIndexConfigHNSW"
    assert vector.vector_index_config.quantizer is None  # exact vectors, never the server default
    assert config.sharding_config.desired_count == 1
    assert config.replication_config.factor == 1


def test_object_uuid_is_deterministic() -> None:
    a = store.object_uuid("fsdd", "validation", "7_jackson_3.wav")
    assert a == store.object_uuid("fsdd", "validation", "7_jackson_3.wav")
    assert a != store.object_uuid("fsdd", "validation", "7_jackson_4.wav")
    assert a.version == 5


@pytest.mark.parametrize("target", ["image", "audio"])
def test_search_filtered_to_one_modality(toy: Collection, target: str) -> None:
    query = unit(np.random.default_rng(1))
    hits = store.search(toy, query, target, limit=15)  # type: ignore[arg-type]
    assert len(hits) == 15
    assert {h.modality for h in hits} == {target}
    assert [h.distance for h in hits] == sorted(h.distance for h in hits)


def test_search_any_modality_and_max_distance(toy: Collection) -> None:
    query = store.get_vector(toy, store.object_uuid("toy", "t", "4"))
    assert query is not None
    hits = store.search(toy, query, None, limit=40)
    assert {h.modality for h in hits} == {"image", "audio"}
    assert hits[0].name == "4" and hits[0].distance < 1e-5
    close = store.search(toy, query, None, limit=40, max_distance=0.9)
    assert close and all(h.distance <= 0.9 + 1e-6 for h in close)
    assert len(close) < len(hits)


def test_paging_is_stable_and_breaks_ties_by_id(toy: Collection) -> None:
    query = store.get_vector(toy, store.object_uuid("toy", "t", "0"))
    assert query is not None
    everything = store.search(toy, query, None, limit=20)
    pages = [h for offset in range(0, 20, 5) for h in store.search(toy, query, None, limit=5, offset=offset)]
    assert [h.id for h in pages] == [h.id for h in everything]
    # objects 0 and 1 have the same vector: the tie is ordered by id, every time
    tied = sorted([str(store.object_uuid("toy", "t", "0")), str(store.object_uuid("toy", "t", "1"))])
    assert [h.id for h in everything[:2]] == tied
    assert everything[0].distance == pytest.approx(everything[1].distance, abs=1e-6)


def test_item_media_vector_lookups(toy: Collection) -> None:
    uid = store.object_uuid("toy", "t", "3")
    item = store.get_item(toy, uid)
    assert item is not None
    assert (item.modality, item.label, item.speaker, item.model_version) == ("audio", 3, "x", "toyversion01")
    assert store.get_media(toy, str(uid)) == b"hello"
    vector = store.get_vector(toy, uid)
    assert vector is not None and len(vector) == DIM
    assert store.get_item(toy, uuid.uuid4()) is None
    assert store.get_item(toy, "not-a-uuid") is None
    assert store.get_media(toy, uuid.uuid4()) is None


def test_search_results_never_carry_the_blob(toy: Collection) -> None:
    query = unit(np.random.default_rng(2))
    hit = store.search(toy, query, None, limit=1)[0]
    assert not hasattr(hit, "media")
    raw = toy.query.near_vector(query, limit=1, return_properties=store.METADATA_PROPERTIES)
    assert "media" not in raw.objects[0].properties


def test_counts_and_model_versions(toy: Collection) -> None:
    counts = store.counts(toy)
    assert counts == {"image": {0: 4, 2: 4, 4: 4, 6: 4, 8: 4}, "audio": {1: 4, 3: 4, 5: 4, 7: 4, 9: 4}}
    assert store.model_versions(toy) == {"toyversion01": 40}


def test_unreachable_url_is_a_clear_error_not_a_hang() -> None:
    closed = free_port()  # bound then released: nothing listens there
    settings = store.StoreSettings(
        weaviate_url=f"http://127.0.0.1:{closed}", weaviate_grpc_port=free_port(), weaviate_timeout_s=2.0
    )
    start = time.monotonic()
    with pytest.raises(store.StoreUnavailable, match="WEAVIATE_URL"):
        store.connect(settings)
    assert time.monotonic() - start < 15


def test_missing_binary_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server, "WEAVIATE_VERSION", "1.0.0")  # a version nobody built
    with pytest.raises(store.StoreUnavailable, match="make weaviate"):
        store.connect(embedded_settings(tmp_path))


@pytest.mark.slow
def test_embedded_server_is_shared_and_stopped_by_its_last_user(tmp_path: Path) -> None:
    settings = embedded_settings(tmp_path / "data", collection="Shared")
    first = store.connect(settings)  # starts the server
    second = store.connect(settings)  # finds it listening and shares it
    try:
        collection = store.ensure_collection(first, settings)
        collection.data.insert(
            {"modality": "image", "label": 1, "source": "t", "split": "t", "name": "a", "model_version": "v"},
            uuid=store.object_uuid("t", "t", "a"),
            vector=unit(np.random.default_rng(3)),
        )
        first.close()  # not the last user: the server keeps running for `second`
        assert second.is_ready()
        assert store.get_item(second.collections.get("Shared"), store.object_uuid("t", "t", "a")) is not None
    finally:
        first.close()
        second.close()  # the last user stops it
    assert wait_closed(settings.weaviate_port)

    again = store.connect(settings)  # a fresh server on the same data: the object survived
    try:
        item = store.get_item(again.collections.get("Shared"), store.object_uuid("t", "t", "a"))
        assert item is not None and item.label == 1
    finally:
        again.close()
    assert wait_closed(settings.weaviate_port)


def test_embedded_server_refuses_anonymous_clients(weaviate_settings: store.StoreSettings) -> None:
    # gRPC listens on every interface, so the embedded server must not be open to anyone.
    with pytest.raises(weaviate.exceptions.WeaviateBaseError, match="401|anonymous"):
        weaviate.connect_to_local(
            host="127.0.0.1",
            port=weaviate_settings.weaviate_port,
            grpc_port=weaviate_settings.weaviate_grpc_port,
        )
