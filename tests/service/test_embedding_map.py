"""GET /map, POST /map/project and the page's routes, against the real index."""

import json
import uuid
from pathlib import Path

import numpy as np
import weaviate
from fastapi.testclient import TestClient

import store
from service.search.embedding_map import MapCache, fit_pca
from service.settings import ServiceSettings
from store.map_reads import object_count
from tests.service.helpers import SMALL_LIMIT, Media, build_index


def test_map_places_every_indexed_item(client: TestClient) -> None:
    r = client.get("/map")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["method"] == "pca" and body["count"] == 2 * SMALL_LIMIT == len(body["points"])
    modalities = [p["modality"] for p in body["points"]]
    assert modalities.count("image") == SMALL_LIMIT and modalities.count("audio") == SMALL_LIMIT
    assert len({p["id"] for p in body["points"]}) == body["count"]
    assert all(0 <= p["label"] <= 9 for p in body["points"])
    xs = [p["x"] for p in body["points"]]
    assert body["bounds"]["x"] == [min(xs), max(xs)]
    components = np.asarray(body["projection"]["components"])
    assert components.shape == (2, 128) and len(body["projection"]["mean"]) == 128
    assert np.allclose(components @ components.T, np.eye(2), atol=1e-4)
    ratios = body["projection"]["explained_variance_ratio"]
    assert 0 < ratios[1] <= ratios[0] < 1


def test_map_is_cached_and_revalidates(client: TestClient) -> None:
    first = client.get("/map")
    etag = first.headers["etag"]
    again = client.get("/map")
    assert again.content == first.content and again.headers["etag"] == etag
    assert client.get("/map", headers={"If-None-Match": etag}).status_code == 304


def test_projection_reproduces_the_stored_points(
    client: TestClient, weaviate_client: weaviate.WeaviateClient, small_index: ServiceSettings
) -> None:
    body = client.get("/map").json()
    mean = np.asarray(body["projection"]["mean"])
    components = np.asarray(body["projection"]["components"])
    collection = weaviate_client.collections.get(small_index.collection)
    for point in body["points"][:5]:
        vector = np.asarray(store.get_vector(collection, point["id"]))
        x, y = components @ (vector - mean)
        assert abs(x - point["x"]) < 1e-3 and abs(y - point["y"]) < 1e-3


def test_project_places_an_upload_among_its_digit(client: TestClient, media: Media) -> None:
    body = client.get("/map").json()
    points = body["points"]
    png, label = media.pngs[0], media.png_labels[0]
    r = client.post("/map/project", files={"file": ("q.png", png, "image/png")})
    assert r.status_code == 200, r.text
    placed = r.json()
    assert placed["modality"] == "image" and placed["format"] == "png"
    assert placed["predicted_label"] == label
    # this very image is indexed: it lands on its own point
    nearest = min(points, key=lambda p: (p["x"] - placed["x"]) ** 2 + (p["y"] - placed["y"]) ** 2)
    assert nearest["label"] == label and nearest["modality"] == "image"


def test_project_rejects_what_search_rejects(client: TestClient) -> None:
    r = client.post("/map/project", files={"file": ("notes.txt", b"plain text, not media", "text/plain")})
    assert r.status_code == 415 and r.json()["error"]["code"]
    empty = client.post("/map/project")
    assert empty.status_code == client.post("/search").status_code and empty.status_code >= 400


def test_fit_pca_finds_the_main_axes() -> None:
    rng = np.random.default_rng(0)
    data = rng.normal(size=(500, 3)) * np.array([5.0, 2.0, 0.1]) + np.array([1.0, -2.0, 3.0])
    projection = fit_pca(data)
    assert np.allclose(np.abs(projection.components), [[1, 0, 0], [0, 1, 0]], atol=0.05)
    assert projection.explained_variance_ratio[0] > 0.8
    placed = projection.place(data)
    assert placed.shape == (500, 2) and np.allclose(placed.mean(axis=0), 0.0, atol=1e-9)


def test_page_and_assets_are_served_with_a_self_only_csp(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe" not in csp
    assert '<script src="/static/app.js"' in r.text and "<style" not in r.text
    for name, kind in [
        ("app.js", "text/javascript"),
        ("style.css", "text/css"),
        ("favicon.svg", "image/svg+xml"),
    ]:
        asset = client.get(f"/static/{name}")
        assert asset.status_code == 200 and asset.headers["content-type"].startswith(kind), name
    assert client.get("/static/missing.js").status_code == 404
    assert client.get("/static/..%2Fmain.py").status_code in (404, 422)


def test_map_follows_a_replacement_that_keeps_the_count(
    weaviate_settings: store.StoreSettings, weaviate_client: weaviate.WeaviateClient, service_checkpoint: Path
) -> None:
    """One object swapped for another, then one vector rewritten in place: the object count
    never moves, and the map must still follow both."""
    build_index(weaviate_settings, "SvcMapSwap", service_checkpoint, 10)  # own index: this one changes
    collection = weaviate_client.collections.get("SvcMapSwap")
    version = next(iter(store.model_versions(collection)))
    cache = MapCache(state_ttl_s=0.0)  # every call reads the index state
    lazy = MapCache(state_ttl_s=3600.0)  # reads it once an hour
    before = cache.get(collection, version)
    assert cache.get(collection, version) is before  # unchanged index: served from memory
    assert lazy.get(collection, version).etag == before.etag

    properties = ["modality", "label", "model_version"]
    gone = next(iter(collection.iterator(include_vector=True, return_properties=properties)))
    collection.data.delete_by_id(gone.uuid)
    vector = -np.asarray(gone.vector["default"])  # somewhere else on the sphere
    new_id = uuid.uuid4()
    collection.data.insert(dict(gone.properties), uuid=new_id, vector=vector.tolist())
    assert object_count(collection) == 20
    swapped = cache.get(collection, version)
    ids = {p["id"] for p in json.loads(swapped.body)["points"]}
    assert str(new_id) in ids and str(gone.uuid) not in ids and len(ids) == 20
    assert swapped.etag != before.etag
    assert lazy.get(collection, version).etag == before.etag  # within its TTL: not read again

    collection.data.update(new_id, vector=(vector * -1).tolist())  # the same id, a new vector
    moved = cache.get(collection, version)
    assert moved.etag != swapped.etag
    assert cache.get(collection, version) is moved
