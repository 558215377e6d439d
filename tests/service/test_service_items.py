"""GET /items/{id}, its media and "more like this", through HTTP."""

import uuid

from fastapi.testclient import TestClient

from store import object_uuid
from tests.service.helpers import Media


def mnist_id(index: int) -> str:
    return str(object_uuid("mnist", "test", str(index)))


def fsdd_id(name: str) -> str:
    return str(object_uuid("fsdd", "validation", name))


def test_item_metadata(client: TestClient, app) -> None:  # type: ignore[no-untyped-def]
    r = client.get(f"/items/{mnist_id(7)}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"] == mnist_id(7)
    assert (body["modality"], body["source"], body["split"], body["name"]) == ("image", "mnist", "test", "7")
    assert body["speaker"] is None
    assert body["model_version"] == app.state.resources.encoders.model_version
    assert body["media_url"] == f"/items/{mnist_id(7)}/media"


def test_search_hits_resolve_to_items(client: TestClient, media: Media) -> None:
    hits = client.post("/search", files={"file": ("a.png", media.pngs[0])}).json()["results"]
    for hit in hits:
        item = client.get(f"/items/{hit['id']}").json()
        assert (item["label"], item["name"], item["speaker"]) == (hit["label"], hit["name"], hit["speaker"])


def test_media_round_trip_is_byte_exact(client: TestClient, media: Media) -> None:
    r = client.get(f"/items/{mnist_id(3)}/media")
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/png"
    assert r.content == media.pngs[3]  # the PNG the indexer made from MNIST test image #3
    r = client.get(f"/items/{fsdd_id(media.wav_names[0])}/media")
    assert r.status_code == 200
    assert r.headers["content-type"] == "audio/wav"
    assert r.content == media.wavs[0]  # the original recording, untouched


def test_media_etag_and_304(client: TestClient) -> None:
    url = f"/items/{mnist_id(5)}/media"
    first = client.get(url)
    etag = first.headers["etag"]
    assert etag.startswith('"') and "max-age" in first.headers["cache-control"]
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    assert client.get(url, headers={"If-None-Match": f'"other", W/{etag}'}).status_code == 304
    assert client.get(url, headers={"If-None-Match": '"stale"'}).status_code == 200
    assert client.get(f"/items/{mnist_id(6)}/media").headers["etag"] != etag


def test_unknown_and_malformed_ids(client: TestClient) -> None:
    unknown = str(uuid.uuid4())
    for suffix in ("", "/media", "/similar"):
        r = client.get(f"/items/{unknown}{suffix}")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        r = client.get(f"/items/not-a-uuid{suffix}")
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_parameters"


def test_similar_defaults_to_the_other_modality(client: TestClient) -> None:
    r = client.get(f"/items/{mnist_id(0)}/similar", params={"k": 4})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["query"]["id"] == mnist_id(0) and body["query"]["modality"] == "image"
    assert body["target"] == "audio"
    assert [h["modality"] for h in body["results"]] == ["audio"] * 4


def test_similar_leaves_the_item_itself_out(client: TestClient) -> None:
    own = mnist_id(1)
    r = client.get(f"/items/{own}/similar", params={"k": 10, "target": "image"})
    ids = [h["id"] for h in r.json()["results"]]
    assert len(ids) == 10 and own not in ids
    r = client.get(f"/items/{own}/similar", params={"k": 10, "target": "any"})
    assert own not in [h["id"] for h in r.json()["results"]]


def test_similar_pages_line_up(client: TestClient) -> None:
    url = f"/items/{mnist_id(2)}/similar"
    whole = [h["id"] for h in client.get(url, params={"k": 12, "target": "image"}).json()["results"]]
    pages = []
    for offset in (0, 4, 8):
        pages += [
            h["id"]
            for h in client.get(url, params={"k": 4, "offset": offset, "target": "image"}).json()["results"]
        ]
    assert pages == whole


def test_similar_equals_searching_with_the_media(client: TestClient) -> None:
    """Searching from the stored vector = uploading the stored media (one preprocessing path)."""
    item = mnist_id(9)
    media_bytes = client.get(f"/items/{item}/media").content
    by_upload = client.post("/search", params={"k": 5}, files={"file": ("9.png", media_bytes)}).json()
    by_item = client.get(f"/items/{item}/similar", params={"k": 5}).json()
    assert [h["id"] for h in by_item["results"]] == [h["id"] for h in by_upload["results"]]
