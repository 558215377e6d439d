"""POST /items, GET /items[/{id}[/media]], DELETE /items/{id}: a user's own items, through HTTP on
the session's real Weaviate (ASYNC_INDEXING on, as the embedded server always runs it).

Uploads are items not in the index (MNIST training images, FSDD training takes), so the item
added is the only one at distance 0 from its own upload.
"""

import dataclasses
import hashlib
import io
import uuid
import wave
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

import store
from models.data import fsdd_items, load_mnist, mnist_png
from service.main import create_app
from service.settings import ServiceSettings
from store import object_uuid, user_items
from tests.service.helpers import build_index, live_server_for, settings_for

COLLECTION = "SvcUserItems"
LIMIT = 40  # per source: the data sets only need to be there


@pytest.fixture(scope="module")
def user_settings(weaviate_settings: store.StoreSettings, service_checkpoint: Path) -> ServiceSettings:
    build_index(weaviate_settings, COLLECTION, service_checkpoint, LIMIT)
    return settings_for(
        weaviate_settings,
        collection=COLLECTION,
        checkpoint=service_checkpoint,
        device="cpu",
        max_user_items=50,
    )


@pytest.fixture(scope="module")
def api(user_settings: ServiceSettings) -> Iterator[TestClient]:
    with TestClient(create_app(user_settings)) as client:
        yield client


@pytest.fixture(scope="module")
def uploads(user_settings: ServiceSettings) -> dict[str, bytes]:
    """Real PNGs and WAVs that the index does not hold."""
    images, _ = load_mnist(user_settings.data_dir, train=True)
    train_wavs = fsdd_items(user_settings.data_dir, "train")
    return {
        "png_a": mnist_png(images[0]),
        "png_b": mnist_png(images[1]),
        "png_c": mnist_png(images[2]),
        "png_d": mnist_png(images[5]),
        "png_e": mnist_png(images[6]),
        "wav_a": train_wavs[0].path.read_bytes(),
    }


def add(api: TestClient, data: bytes, name: str = "x.png", **form: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    r = api.post("/items", files={"file": (name, data)}, data=form)
    return r.status_code, r.json()


def first_hit(api: TestClient, data: bytes, target: str) -> dict:  # type: ignore[type-arg]
    r = api.post("/search", params={"target": target, "k": 3}, files={"file": ("q", data)})
    assert r.status_code == 200, r.text
    return r.json()["results"][0]


def test_added_image_is_found_first_at_once(api: TestClient, uploads: dict[str, bytes]) -> None:
    status, item = add(api, uploads["png_a"], "seven.png")
    assert status == 201, item
    assert (item["source"], item["modality"], item["label_source"]) == ("user", "image", "predicted")
    assert 0 <= item["label"] <= 9 and item["content_type"] == "image/png"
    assert item["media_url"] == f"/items/{item['id']}/media" and item["name"] == "seven.png"
    hit = first_hit(api, uploads["png_a"], "image")  # read-your-writes: no wait, no retry
    assert hit["id"] == item["id"] and hit["distance"] < 0.01 and hit["source"] == "user"
    marked = [p for p in api.get("/map").json()["points"] if p.get("source") == "user"]
    assert item["id"] in [p["id"] for p in marked]  # the map marks it at once too
    again_status, again = add(api, uploads["png_a"], "other-name.png")
    assert again_status == 200 and again["id"] == item["id"] and again["name"] == "seven.png"


def test_added_recording_is_found_first_and_served_as_uploaded(
    api: TestClient, uploads: dict[str, bytes]
) -> None:
    status, item = add(api, uploads["wav_a"], "three.wav", label="3")
    assert status == 201, item
    assert (item["modality"], item["label"], item["label_source"]) == ("audio", 3, "given")
    assert first_hit(api, uploads["wav_a"], "audio")["id"] == item["id"]
    media = api.get(item["media_url"])
    assert media.status_code == 200 and media.content == uploads["wav_a"]
    assert media.headers["content-type"] == "audio/wav"
    meta = api.get(f"/items/{item['id']}").json()
    assert (meta["source"], meta["label"], meta["label_source"], meta["split"]) == (
        "user",
        3,
        "given",
        "user",
    )


def test_an_m4a_voice_memo_round_trip(api: TestClient, uploads: dict[str, bytes]) -> None:
    """Add -> find -> fetch -> add again -> delete, for AAC in M4A as phones and Safari record."""
    from models.wav import read_wav
    from tests.encoded_media import encode_audio

    samples, rate = read_wav(uploads["wav_a"], 8_000, 8_000, 10.0)
    memo = encode_audio(samples[0], rate, "m4a-aac")
    status, item = add(api, memo, "memo.m4a", label="3")
    assert status == 201, item
    assert (item["modality"], item["label"], item["content_type"]) == ("audio", 3, "audio/mp4")
    hit = first_hit(api, memo, "audio")
    assert hit["id"] == item["id"] and hit["distance"] < 0.01
    media = api.get(item["media_url"])
    assert media.content == memo and media.headers["content-type"] == "audio/mp4"
    again_status, again = add(api, memo, "memo.m4a", label="3")
    assert again_status == 200 and again["id"] == item["id"]
    assert api.delete(f"/items/{item['id']}").status_code == 204
    assert api.get(f"/items/{item['id']}").status_code == 404
    assert item["id"] not in [
        h["id"]
        for h in api.post("/search", params={"target": "audio", "k": 10}, files={"file": ("q", memo)}).json()[
            "results"
        ]
    ]


def test_same_bytes_with_another_label_is_another_item(api: TestClient, uploads: dict[str, bytes]) -> None:
    _, predicted = add(api, uploads["png_b"])
    other = (predicted["label"] + 1) % 10
    status, given = add(api, uploads["png_b"], label=str(other))
    assert status == 201 and given["id"] != predicted["id"] and given["label"] == other
    assert str(uuid.UUID(given["id"])) == given["id"]


def test_other_image_formats_keep_their_bytes_and_type(api: TestClient, uploads: dict[str, bytes]) -> None:
    from PIL import Image

    buffer = io.BytesIO()
    Image.open(io.BytesIO(uploads["png_c"])).convert("RGB").save(buffer, format="JPEG", quality=95)
    jpeg = buffer.getvalue()
    status, item = add(api, jpeg, "c.jpg")
    assert status == 201, item
    assert item["content_type"] == "image/jpeg"
    media = api.get(item["media_url"])
    assert media.content == jpeg and media.headers["content-type"] == "image/jpeg"


def test_listing_pages_newest_first(api: TestClient, uploads: dict[str, bytes]) -> None:
    add(api, uploads["png_c"], label="1")
    _, newest = add(api, uploads["png_c"], label="0")
    everything = api.get("/items", params={"source": "user", "limit": 100}).json()
    assert everything["total"] == len(everything["items"]) >= 2
    assert everything["items"][0]["id"] == newest["id"]
    assert all(i["source"] == "user" for i in everything["items"])
    stamps = [i["created_ms"] for i in everything["items"]]
    assert stamps == sorted(stamps, reverse=True)
    first = api.get("/items", params={"source": "user", "limit": 1}).json()
    second = api.get("/items", params={"source": "user", "limit": 1, "offset": 1}).json()
    assert [first["items"][0]["id"], second["items"][0]["id"]] == [i["id"] for i in everything["items"][:2]]
    assert api.get("/items", params={"source": "mnist"}).status_code == 422
    beyond = api.get("/items", params={"offset": 9_900, "limit": 100})
    assert beyond.status_code == 200 and beyond.json()["items"] == []
    assert api.get("/items", params={"offset": 9_901}).status_code == 422


def test_delete_removes_it_from_everything(api: TestClient, uploads: dict[str, bytes]) -> None:
    _, item = add(api, uploads["png_c"], label="5")
    assert api.delete(f"/items/{item['id']}").status_code == 204
    for path in (f"/items/{item['id']}", item["media_url"]):
        assert api.get(path).status_code == 404
    hits = api.post("/search", params={"target": "any", "k": 20}, files={"file": ("q", uploads["png_c"])})
    assert item["id"] not in [h["id"] for h in hits.json()["results"]]
    listed = api.get("/items", params={"limit": 100}).json()["items"]
    assert item["id"] not in [i["id"] for i in listed]
    again = api.delete(f"/items/{item['id']}")
    assert again.status_code == 404 and again.json()["error"]["code"] == "not_found"


def test_data_set_items_are_not_the_users_to_delete(api: TestClient) -> None:
    mnist_item = str(object_uuid("mnist", "test", "0"))
    r = api.delete(f"/items/{mnist_item}")
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_user_item"
    assert api.get(f"/items/{mnist_item}").status_code == 200
    assert api.delete("/items/not-a-uuid").status_code == 422


@pytest.mark.parametrize("label", ["10", "-1", "seven", "", "3.0", "١"])
def test_bad_labels_are_422(api: TestClient, uploads: dict[str, bytes], label: str) -> None:
    status, body = add(api, uploads["png_a"], label=label)
    assert status == 422 and body["error"]["code"] == "invalid_parameters"


def test_bad_uploads_answer_as_search_does(api: TestClient) -> None:
    assert api.post("/items", data={"label": "3"}).status_code in (415, 422)
    r = api.post("/items", files={"other": ("a.png", b"x")})
    assert r.status_code == 422 and r.json()["error"]["code"] == "missing_file"
    r = api.post("/items", files={"file": ("a.txt", b"hello, not a digit")})
    assert r.status_code == 415
    silent = io.BytesIO()
    with wave.open(silent, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(np.zeros(8000, dtype=np.int16).tobytes())
    r = api.post("/items", files={"file": ("silent.wav", silent.getvalue())})
    assert r.status_code == 400, r.text


def test_read_only_refuses_writes(
    user_settings: ServiceSettings, api: TestClient, uploads: dict[str, bytes]
) -> None:
    _, item = add(api, uploads["png_a"])
    with TestClient(create_app(user_settings.model_copy(update={"read_only": True}))) as ro:
        r = ro.post("/items", files={"file": ("a.png", uploads["png_b"])})
        assert r.status_code == 403 and r.json()["error"]["code"] == "read_only"
        r = ro.delete(f"/items/{item['id']}")
        assert r.status_code == 403 and r.json()["error"]["code"] == "read_only"
        assert ro.get(f"/items/{item['id']}").status_code == 200  # reads go on


def test_cap_on_user_items(
    user_settings: ServiceSettings, api: TestClient, uploads: dict[str, bytes]
) -> None:
    _, existing = add(api, uploads["png_a"])
    total = api.get("/items").json()["total"]
    with TestClient(create_app(user_settings.model_copy(update={"max_user_items": total}))) as capped:
        r = capped.post("/items", files={"file": ("new.wav", uploads["wav_a"])}, data={"label": "7"})
        assert r.status_code == 409 and r.json()["error"]["code"] == "user_items_full"
        assert "MAX_USER_ITEMS" in r.json()["error"]["message"]
        again = capped.post("/items", files={"file": ("a.png", uploads["png_a"])})
        assert again.status_code == 200 and again.json()["id"] == existing["id"]


def test_the_cap_holds_when_another_process_adds_at_the_same_moment(
    user_settings: ServiceSettings,
    api: TestClient,
    uploads: dict[str, bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two workers (or api containers) one item under the cap both pass their own count; the
    second write must not leave the index over MAX_USER_ITEMS."""
    total = api.get("/items").json()["total"]
    put, others = user_items.put_user_item, []

    def another_worker_adds_first(records, searched, item, media, vector):  # type: ignore[no-untyped-def]
        other = dataclasses.replace(item, id=str(uuid.uuid4()), name="theirs.png")
        put(records, searched, other, media, vector)
        others.append(other.id)
        put(records, searched, item, media, vector)

    monkeypatch.setattr(user_items, "put_user_item", another_worker_adds_first)
    with TestClient(create_app(user_settings.model_copy(update={"max_user_items": total + 1}))) as capped:
        status, body = add(capped, uploads["png_e"], label="3")
        assert status == 409 and body["error"]["code"] == "user_items_full", body
        monkeypatch.undo()
        assert capped.get("/items").json()["total"] == total + 1  # theirs stays, ours is gone
        refused = str(user_items.user_item_uuid(hashlib.sha256(uploads["png_e"]).hexdigest(), 3))
        assert capped.get(f"/items/{refused}").status_code == 404
        assert first_hit(capped, uploads["png_e"], "image")["id"] != refused
        assert capped.delete(f"/items/{others[0]}").status_code == 204


def test_writes_need_the_api_key(user_settings: ServiceSettings, uploads: dict[str, bytes]) -> None:
    keyed = ServiceSettings(**{**user_settings.model_dump(), "api_key": "s3cret"})
    with TestClient(create_app(keyed)) as client:
        r = client.post("/items", files={"file": ("a.png", uploads["png_a"])})
        assert r.status_code == 401
        some_id = str(uuid.uuid4())
        assert client.delete(f"/items/{some_id}").status_code == 401
        assert client.get("/items").status_code == 401
        r = client.post(
            "/items", files={"file": ("a.png", uploads["png_a"])}, headers={"X-API-Key": "s3cret"}
        )
        assert r.status_code in (200, 201) and r.json()["source"] == "user"


def test_items_survive_a_service_restart(
    user_settings: ServiceSettings, api: TestClient, uploads: dict[str, bytes]
) -> None:
    _, item = add(api, uploads["wav_a"], label="3")
    with TestClient(create_app(user_settings)) as restarted:
        assert restarted.get(f"/items/{item['id']}").json()["label_source"] == "given"
        assert first_hit(restarted, uploads["wav_a"], "audio")["id"] == item["id"]


def test_openapi_documents_the_routes(api: TestClient) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    assert {"201", "200", "403", "409", "413", "415", "422"} <= set(paths["/items"]["post"]["responses"])
    assert {"204", "403", "404"} <= set(paths["/items/{item_id}"]["delete"]["responses"])
    assert "get" in paths["/items"]


def test_no_item_is_written_before_the_index_exists(
    user_settings: ServiceSettings, weaviate_client: object, uploads: dict[str, bytes]
) -> None:
    missing = user_settings.model_copy(update={"collection": "NotIndexedYet"})
    with TestClient(create_app(missing)) as client:
        r = client.post("/items", files={"file": ("a.png", uploads["png_a"])})
        assert r.status_code == 503 and r.json()["error"]["code"] == "index_missing"
        assert "run the indexer" in r.json()["error"]["message"] and r.headers["retry-after"]
        assert client.get("/items").json() == {"items": [], "total": 0, "limit": 20, "offset": 0}
    assert not weaviate_client.collections.exists("NotIndexedYet")  # type: ignore[attr-defined]


def test_concurrent_adds_of_one_upload_make_one_item_each_searchable_at_once(
    user_settings: ServiceSettings, uploads: dict[str, bytes]
) -> None:
    with live_server_for(user_settings) as server:

        def add_then_search(_: int) -> tuple[int, str, str]:
            with httpx.Client(base_url=server.url, timeout=60) as http:
                r = http.post("/items", files={"file": ("d.png", uploads["png_d"])}, data={"label": "6"})
                hits = http.post(
                    "/search", params={"target": "image"}, files={"file": ("q", uploads["png_d"])}
                )
                return r.status_code, r.json()["id"], hits.json()["results"][0]["id"]

        with ThreadPoolExecutor(4) as pool:
            outcomes = list(pool.map(add_then_search, range(4)))
    assert sorted(status for status, _, _ in outcomes) == [200, 200, 200, 201]
    assert len({item_id for _, item_id, _ in outcomes}) == 1
    assert all(first == item_id for _, item_id, first in outcomes)  # read-your-writes for every caller


def test_adding_again_puts_a_lost_copy_back(
    api: TestClient, user_settings: ServiceSettings, weaviate_client: object, uploads: dict[str, bytes]
) -> None:
    _, item = add(api, uploads["png_e"], label="2")
    searched = weaviate_client.collections.get(user_settings.collection)  # type: ignore[attr-defined]
    searched.data.delete_by_id(item["id"])  # as a crash between the two writes would leave it
    assert first_hit(api, uploads["png_e"], "image")["id"] != item["id"]
    status, again = add(api, uploads["png_e"], label="2")
    assert status == 200 and again["id"] == item["id"]
    assert first_hit(api, uploads["png_e"], "image")["id"] == item["id"]
