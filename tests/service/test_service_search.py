"""POST /search and friends through HTTP, against the real Weaviate index."""

import pytest
from fastapi.testclient import TestClient

from tests.service.helpers import MAX_BATCH, SMALL_LIMIT, Media


def search(client: TestClient, data: bytes, path: str = "/search", name: str = "upload", **params: object):
    return client.post(path, params=params, files={"file": (name, data, "application/octet-stream")})


def test_image_finds_spoken_digits_by_default(client: TestClient, media: Media) -> None:
    r = search(client, media.pngs[0], name="seven.png")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["query"]["modality"] == "image" and body["query"]["format"] == "png"
    assert 0 <= body["query"]["predicted_label"] <= 9 and 0.0 <= body["query"]["confidence"] <= 1.0
    assert body["target"] == "audio" and body["k"] == 5
    assert len(body["results"]) == 5
    for hit in body["results"]:
        assert hit["modality"] == "audio" and hit["source"] == "fsdd"
        assert hit["name"].endswith(".wav") and hit["speaker"] in hit["name"]
        assert hit["media_url"] == f"/items/{hit['id']}/media"
        assert 0.0 <= hit["distance"] <= 2.0
    distances = [h["distance"] for h in body["results"]]
    assert distances == sorted(distances)
    assert set(body["timings_ms"]) == {"decode", "embed", "search", "total"}
    t = body["timings_ms"]
    assert t["total"] >= t["decode"] + t["embed"] + t["search"] - 0.01


def test_audio_finds_handwritten_digits_by_default(client: TestClient, media: Media) -> None:
    r = search(client, media.wavs[3], name="three.wav")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["query"]["modality"] == "audio" and body["query"]["format"] == "wav"
    assert body["target"] == "image"
    assert [h["modality"] for h in body["results"]] == ["image"] * 5
    assert all(h["source"] == "mnist" and h["speaker"] is None for h in body["results"])


def test_modality_comes_from_the_bytes_not_the_name(client: TestClient, media: Media) -> None:
    r = search(client, media.wavs[0], name="looks_like.png")
    assert r.status_code == 200
    assert r.json()["query"]["modality"] == "audio"


@pytest.mark.parametrize(("target", "expected"), [("auto", "audio"), ("audio", "audio"), ("image", "image")])
def test_each_single_target(client: TestClient, media: Media, target: str, expected: str) -> None:
    r = search(client, media.pngs[1], target=target, k=20)
    assert r.status_code == 200, r.text
    assert r.json()["target"] == expected
    assert [h["modality"] for h in r.json()["results"]] == [expected] * 20


def test_target_any_merges_both_modalities_by_distance(client: TestClient, media: Media) -> None:
    for query in (media.pngs[1], media.wavs[1]):
        per_modality = []
        for target in ("image", "audio"):
            per_modality += search(client, query, target=target, k=100).json()["results"]
        r = search(client, query, target="any", k=100)
        assert r.status_code == 200 and r.json()["target"] == "any"
        got = r.json()["results"]
        expected = sorted(per_modality, key=lambda h: h["distance"])[:100]
        # (distances are rounded in responses, so equal-looking ties may come in either order)
        assert [h["distance"] for h in got] == [h["distance"] for h in expected]
        cut = expected[-1]["distance"]
        assert {h["id"] for h in got if h["distance"] < cut} == {
            h["id"] for h in expected if h["distance"] < cut
        }


def test_same_modality_search_finds_the_indexed_query_itself_first(client: TestClient, media: Media) -> None:
    r = search(client, media.pngs[2], target="image", k=3)
    top = r.json()["results"][0]
    assert top["name"] == "2" and top["distance"] < 1e-4  # MNIST test image #2 is in the index


@pytest.mark.parametrize("k", [1, 7, 100])
def test_k_bounds_inside(client: TestClient, media: Media, k: int) -> None:
    r = search(client, media.pngs[0], k=k)
    assert r.status_code == 200
    assert len(r.json()["results"]) == min(k, SMALL_LIMIT)


@pytest.mark.parametrize("k", [0, -1, 101, "five"])
def test_k_bounds_outside(client: TestClient, media: Media, k: object) -> None:
    r = search(client, media.pngs[0], k=k)
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_parameters"
    assert "k" in r.json()["error"]["message"]


def test_paging_is_stable_without_gaps_or_duplicates(client: TestClient, media: Media) -> None:
    whole = [h["id"] for h in search(client, media.wavs[5], k=30).json()["results"]]
    pages = []
    for offset in range(0, 30, 7):
        r = search(client, media.wavs[5], k=7, offset=offset)
        assert r.json()["offset"] == offset
        pages += [h["id"] for h in r.json()["results"]]
    assert pages[:30] == whole
    assert len(set(whole)) == 30


def test_max_distance_drops_far_hits(client: TestClient, media: Media) -> None:
    all_hits = search(client, media.pngs[4], k=50, target="any").json()["results"]
    cut = all_hits[len(all_hits) // 2]["distance"]
    kept = search(client, media.pngs[4], k=50, target="any", max_distance=cut).json()["results"]
    assert kept and all(h["distance"] <= cut + 1e-6 for h in kept)
    assert len(kept) < len(all_hits)
    exact = search(client, media.pngs[4], k=5, target="image", max_distance=0.0001).json()["results"]
    assert [h["name"] for h in exact] == ["4"]


def test_image_endpoint(client: TestClient, media: Media) -> None:
    r = search(client, media.pngs[0], path="/search/image")
    assert r.status_code == 200 and r.json()["target"] == "audio"
    r = search(client, media.wavs[0], path="/search/image")
    assert r.status_code == 415
    assert r.json()["error"]["code"] == "unsupported_media_type"
    assert "/search/audio" in r.json()["error"]["message"]


def test_audio_endpoint(client: TestClient, media: Media) -> None:
    r = search(client, media.wavs[0], path="/search/audio")
    assert r.status_code == 200 and r.json()["target"] == "image"
    r = search(client, media.pngs[0], path="/search/audio", target="any")
    assert r.status_code == 415


def test_batch_reports_each_file_in_its_slot(client: TestClient, media: Media) -> None:
    files = [
        ("files", ("a.png", media.pngs[0])),
        ("files", ("broken.png", media.pngs[1][:60])),
        ("files", ("c.wav", media.wavs[2])),
        ("files", ("notes.txt", b"just some text")),
    ]
    r = client.post("/search/batch", params={"k": 3}, files=files)
    assert r.status_code == 200, r.text
    slots = r.json()["results"]
    assert [s["index"] for s in slots] == [0, 1, 2, 3]
    assert [s["filename"] for s in slots] == ["a.png", "broken.png", "c.wav", "notes.txt"]
    assert [s["status"] for s in slots] == [200, 400, 200, 415]
    assert slots[0]["result"]["target"] == "audio" and len(slots[0]["result"]["results"]) == 3
    assert slots[2]["result"]["target"] == "image" and slots[2]["error"] is None
    assert slots[1]["error"]["code"] == "invalid_image" and slots[1]["result"] is None
    assert slots[3]["error"]["code"] == "unsupported_media_type"


def test_batch_results_equal_single_searches(client: TestClient, media: Media) -> None:
    files = [("files", (f"{i}.png", media.pngs[i])) for i in range(3)]
    batch = client.post("/search/batch", files=files).json()["results"]
    for i in range(3):
        single = search(client, media.pngs[i]).json()
        assert [h["id"] for h in batch[i]["result"]["results"]] == [h["id"] for h in single["results"]]


def test_batch_limits(client: TestClient, media: Media) -> None:
    too_many = [("files", (f"{i}.png", media.pngs[i])) for i in range(MAX_BATCH + 1)]
    r = client.post("/search/batch", files=too_many)
    assert r.status_code == 422 and r.json()["error"]["code"] == "too_many_files"
    r = client.post("/search/batch", files={"other": ("x.png", media.pngs[0])})
    assert r.status_code == 422 and r.json()["error"]["code"] == "missing_file"


def test_batch_oversized_file_fails_only_its_slot(client: TestClient, app, media: Media) -> None:  # type: ignore[no-untyped-def]
    big = media.pngs[0] + b"\0" * app.state.settings.max_upload_bytes
    r = client.post(
        "/search/batch", files=[("files", ("big.png", big)), ("files", ("ok.png", media.pngs[1]))]
    )
    assert r.status_code == 200
    assert [s["status"] for s in r.json()["results"]] == [413, 200]
    assert r.json()["results"][0]["error"]["code"] == "payload_too_large"


def test_query_parameters_documented_and_parsed_as_declared(client: TestClient, media: Media) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    operations = [
        paths[p][m]
        for p, m in (("/search", "post"), ("/search/batch", "post"), ("/search/text", "get"))
        + (("/items/{item_id}/similar", "get"),)
    ]
    for op in operations:
        documented = {p["name"]: p for p in op["parameters"] if p["in"] == "query"}
        assert {"k", "target", "offset", "max_distance", "order"} <= set(documented)
        assert documented["k"]["schema"]["minimum"] == 1 and documented["k"]["schema"]["maximum"] == 100
        assert set(documented["target"]["schema"]["enum"]) == {"auto", "image", "audio", "any"}
        assert documented["k"]["description"]
    # a repeated name: the last value counts (as FastAPI's own parameters did); unknown names are ignored
    r = client.post(
        "/search?k=2&k=3&colour=blue", files={"file": ("a.png", media.pngs[0], "application/octet-stream")}
    )
    assert r.status_code == 200 and r.json()["k"] == 3 and len(r.json()["results"]) == 3
    r = search(client, media.pngs[0], order="farthest", max_distance=0.5)
    assert r.status_code == 422 and "max_distance" in r.json()["error"]["message"]
