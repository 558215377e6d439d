"""A user's items outlive what the index goes through: a RECREATE of the data sets, a new model
version (re-embedded from their stored media), a restart of Weaviate; and read-your-writes
holds with synchronous indexing too (the embedded server runs ASYNC_INDEXING=true; a second
server here runs it false)."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from weaviate.classes.query import Filter

import store
from indexer import pipeline, user_items_sync
from indexer.settings import IndexerSettings
from models.data import fsdd_items, load_mnist, mnist_png
from models.runtime import file_version
from models.wav import read_wav
from service.main import create_app
from service.settings import ServiceSettings
from store import user_items
from store.embedded import server_process
from tests.conftest import make_checkpoint
from tests.encoded_media import encode_audio
from tests.service.helpers import settings_for
from tests.weaviate_server import embedded_settings, wait_closed

LIMIT = 20  # per source: the data sets only need to be there


def index(base: store.StoreSettings, collection: str, checkpoint: Path, recreate: bool) -> pipeline.Report:
    settings = IndexerSettings(
        **{**base.model_dump(), "collection": collection, "checkpoint": checkpoint},
        index_limit=LIMIT,
        recreate=recreate,
    )
    report = pipeline.run(settings, progress=False)
    assert report.ok, (report.failures[:5], report.problems)
    return report


@pytest.fixture(scope="module")
def uploads(weaviate_settings: store.StoreSettings) -> dict[str, bytes]:
    images, _ = load_mnist(weaviate_settings.data_dir, train=True)
    return {
        "png": mnist_png(images[10]),
        "m4a": m4a_take(fsdd_items(weaviate_settings.data_dir, "train")[5].path),  # a phone's voice memo
    }


def m4a_take(path: Path) -> bytes:
    samples, rate = read_wav(path.read_bytes(), 8_000, 8_000, 10.0)
    return encode_audio(samples[0], rate, "m4a-aac")


def service(base: store.StoreSettings, collection: str, checkpoint: Path) -> ServiceSettings:
    return settings_for(base, collection=collection, checkpoint=checkpoint, device="cpu")


def add_both(api: TestClient, uploads: dict[str, bytes]) -> dict[str, dict]:  # type: ignore[type-arg]
    added = {}
    for kind, data in uploads.items():
        r = api.post("/items", files={"file": (f"mine.{kind}", data)}, data={"label": "4"})
        assert r.status_code == 201, r.text
        added[kind] = r.json()
    return added


def assert_found_first(api: TestClient, uploads: dict[str, bytes], added: dict[str, dict]) -> None:  # type: ignore[type-arg]
    for kind, data in uploads.items():
        target = "image" if kind == "png" else "audio"
        r = api.post("/search", params={"target": target}, files={"file": ("q", data)})
        hit = r.json()["results"][0]
        assert hit["id"] == added[kind]["id"] and hit["distance"] < 0.01 and hit["source"] == "user", hit
        item = api.get(f"/items/{added[kind]['id']}").json()
        assert (item["label"], item["label_source"]) == (4, "given")
        assert api.get(f"/items/{added[kind]['id']}/media").content == data


def test_recreate_keeps_user_items_and_drops_orphan_copies(
    weaviate_settings: store.StoreSettings,
    weaviate_client: object,
    service_checkpoint: Path,
    uploads: dict[str, bytes],
) -> None:
    index(weaviate_settings, "DurableRecreate", service_checkpoint, recreate=True)
    settings = service(weaviate_settings, "DurableRecreate", service_checkpoint)
    with TestClient(create_app(settings)) as api:
        added = add_both(api, uploads)
    report = index(weaviate_settings, "DurableRecreate", service_checkpoint, recreate=True)
    assert (report.user_items.records, report.user_items.copied, report.user_items.reembedded) == (2, 2, 0)
    with TestClient(create_app(settings)) as api:
        assert_found_first(api, uploads, added)
        # a copy whose record is gone (a crash between DELETE's two writes) is removed by the next run
        records = weaviate_client.collections.get(user_items.user_collection_name(settings))  # type: ignore[attr-defined]
        records.data.delete_by_id(added["png"]["id"])
        report = index(weaviate_settings, "DurableRecreate", service_checkpoint, recreate=False)
        assert (report.user_items.records, report.user_items.removed) == (1, 1)
        hits = api.post("/search", params={"target": "image"}, files={"file": ("q", uploads["png"])}).json()
        assert added["png"]["id"] not in [h["id"] for h in hits["results"]]


def test_a_delete_while_the_sync_copies_the_item_leaves_no_copy(
    weaviate_settings: store.StoreSettings,
    weaviate_client: object,
    service_checkpoint: Path,
    uploads: dict[str, bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The user's DELETE lands between the sync reading the records and writing the copies (a
    RECREATE rewrites every copy): the deleted item must not come back in searches."""
    index(weaviate_settings, "DurableDeleteRace", service_checkpoint, recreate=True)
    settings = service(weaviate_settings, "DurableDeleteRace", service_checkpoint)
    with TestClient(create_app(settings)) as api:
        added = add_both(api, uploads)
        write_copy = user_items_sync._write_copy

        def delete_then_write(searched, item, vector):  # type: ignore[no-untyped-def]
            if item.id == added["png"]["id"]:
                assert api.delete(f"/items/{item.id}").status_code == 204
            write_copy(searched, item, vector)

        monkeypatch.setattr(user_items_sync, "_write_copy", delete_then_write)
        report = index(weaviate_settings, "DurableDeleteRace", service_checkpoint, recreate=True)
        assert (report.user_items.records, report.user_items.copied, report.user_items.removed) == (2, 1, 1)
        searched = weaviate_client.collections.get("DurableDeleteRace")  # type: ignore[attr-defined]
        assert searched.query.fetch_object_by_id(added["png"]["id"]) is None
        hits = api.post("/search", params={"target": "image"}, files={"file": ("q", uploads["png"])}).json()
        assert added["png"]["id"] not in [h["id"] for h in hits["results"]]
        assert api.get(f"/items/{added['png']['id']}").status_code == 404
        assert api.get(f"/items/{added['m4a']['id']}").status_code == 200


def test_a_new_model_version_re_embeds_user_items(
    weaviate_settings: store.StoreSettings,
    weaviate_client: object,
    service_checkpoint: Path,
    tmp_path: Path,
    uploads: dict[str, bytes],
) -> None:
    index(weaviate_settings, "DurableModel", service_checkpoint, recreate=True)
    with TestClient(create_app(service(weaviate_settings, "DurableModel", service_checkpoint))) as api:
        added = add_both(api, uploads)
    other = make_checkpoint(tmp_path / "other.pt", seed=7)
    new_version = file_version(other)
    assert new_version != added["png"]["model_version"]
    report = index(weaviate_settings, "DurableModel", other, recreate=False)  # what `make run` does
    assert (report.user_items.reembedded, report.user_items.copied) == (2, 2)
    assert store.index_problems(weaviate_client, "DurableModel", new_version) == []
    with TestClient(create_app(service(weaviate_settings, "DurableModel", other))) as api:
        assert_found_first(api, uploads, added)
        listed = api.get("/items").json()["items"]
        assert {i["model_version"] for i in listed} == {new_version}


def test_items_survive_a_weaviate_restart(
    tmp_path: Path, service_checkpoint: Path, uploads: dict[str, bytes]
) -> None:
    base = embedded_settings(tmp_path / "weaviate")  # a server of this test's own, restarted below
    holder = store.connect(base)  # keeps the server up while the service comes and goes
    try:
        index(base, "Restarted", service_checkpoint, recreate=True)
        with TestClient(create_app(service(base, "Restarted", service_checkpoint))) as api:
            added = add_both(api, uploads)
    finally:
        holder.close()
    assert wait_closed(base.weaviate_port), "the server did not stop"
    holder = store.connect(base)  # a new server process on the same data folder
    try:
        with TestClient(create_app(service(base, "Restarted", service_checkpoint))) as api:
            assert_found_first(api, uploads, added)
    finally:
        holder.close()
    assert wait_closed(base.weaviate_port)


@pytest.fixture
def sync_indexing_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[store.StoreSettings]:
    """A server started with ASYNC_INDEXING=false: vectors go into the index within the write."""
    launch_env = server_process.server_env

    def synchronous(*args: object, **kwargs: object) -> dict[str, str]:
        return {**launch_env(*args, **kwargs), "ASYNC_INDEXING": "false"}  # type: ignore[arg-type]

    monkeypatch.setattr(server_process, "server_env", synchronous)
    settings = embedded_settings(tmp_path / "weaviate-sync")
    holder = store.connect(settings)
    try:
        pid = store.server_pid(settings)
        assert pid is not None
        assert b"ASYNC_INDEXING=false" in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        yield settings
    finally:
        holder.close()
        assert wait_closed(settings.weaviate_port)


def test_read_your_writes_with_synchronous_indexing(
    sync_indexing_server: store.StoreSettings, service_checkpoint: Path, uploads: dict[str, bytes]
) -> None:
    index(sync_indexing_server, "SyncIndexing", service_checkpoint, recreate=True)
    with TestClient(create_app(service(sync_indexing_server, "SyncIndexing", service_checkpoint))) as api:
        added = add_both(api, uploads)
        assert_found_first(api, uploads, added)
        for item in added.values():
            assert api.delete(f"/items/{item['id']}").status_code == 204
            assert api.get(f"/items/{item['id']}").status_code == 404


def test_users_copies_of_data_set_items_do_not_fail_the_indexers_checks(
    weaviate_settings: store.StoreSettings, weaviate_client: object, service_checkpoint: Path
) -> None:
    """A user may add a data set's own image again, under several labels: each copy ties with
    the original at distance 0, and the indexer's "sampled items find themselves first" check
    must still pass."""
    version = index(weaviate_settings, "DurableTwins", service_checkpoint, recreate=True).model_version
    settings = service(weaviate_settings, "DurableTwins", service_checkpoint)
    client = weaviate_client
    records = user_items.ensure_user_collection(client, settings)  # type: ignore[arg-type]
    searched = client.collections.get("DurableTwins")  # type: ignore[attr-defined]
    originals = searched.query.fetch_objects(
        limit=LIMIT, include_vector=True, filters=Filter.by_property("modality").equal("image")
    )
    for obj in originals.objects:
        vector = obj.vector["default"]
        for label in range(4):
            uid = user_items.user_item_uuid(f"twin-of-{obj.uuid}", label)
            item = user_items.UserItem(
                str(uid),
                "image",
                label,
                "given",
                "image/png",
                "twin.png",
                "0" * 64,
                version,
                user_items.now_ms(),
            )
            user_items.put_user_item(records, searched, item, b"\x89PNG twin", vector)
    report = index(weaviate_settings, "DurableTwins", service_checkpoint, recreate=False)  # asserts report.ok
    assert report.user_items.records == 4 * LIMIT
