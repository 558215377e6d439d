"""order=farthest on the search routes: the most dissimilar items, with distances from the query."""

from fastapi.testclient import TestClient

from tests.service.helpers import Media


def post(client: TestClient, data: bytes, **params: object):
    r = client.post("/search", params=params, files={"file": ("q", data, "application/octet-stream")})
    assert r.status_code == 200, r.text
    return r.json()


def test_farthest_is_the_far_end_of_the_nearest_ranking(client: TestClient, media: Media) -> None:
    png = media.pngs[1]
    farthest = post(client, png, k=5, order="farthest")["results"]
    distances = [h["distance"] for h in farthest]
    assert distances == sorted(distances, reverse=True)
    # the exhaustive nearest ranking over the 200 indexed clips ends where farthest starts
    tail = post(client, png, k=100, offset=100)["results"]
    assert len(tail) == 100
    assert abs(tail[-1]["distance"] - distances[0]) < 1e-4
    assert {h["id"] for h in tail[-5:]} == {h["id"] for h in farthest}
    assert all(0.0 <= d <= 2.0 for d in distances)


def test_farthest_finds_other_digits(client: TestClient, media: Media) -> None:
    for png, label in zip(media.pngs[:3], media.png_labels[:3], strict=True):
        body = post(client, png, k=5, order="farthest")
        assert body["target"] == "audio"
        assert all(h["label"] != label for h in body["results"]), (label, body["results"])
        nearest = post(client, png, k=5)["results"]
        assert min(h["distance"] for h in body["results"]) > max(h["distance"] for h in nearest)


def test_farthest_pages_continue(client: TestClient, media: Media) -> None:
    wav = media.wavs[0]
    ten = post(client, wav, k=10, order="farthest")["results"]
    second = post(client, wav, k=5, offset=5, order="farthest")["results"]
    assert [h["id"] for h in second] == [h["id"] for h in ten[5:]]


def test_farthest_on_similar_items(client: TestClient, media: Media) -> None:
    start = post(client, media.pngs[0], k=1)["results"][0]
    near = client.get(f"/items/{start['id']}/similar", params={"k": 5, "target": "audio"}).json()["results"]
    r = client.get(f"/items/{start['id']}/similar", params={"k": 5, "target": "audio", "order": "farthest"})
    assert r.status_code == 200, r.text
    far = r.json()["results"]
    assert len(far) == 5 and start["id"] not in {h["id"] for h in far}
    assert min(h["distance"] for h in far) > max(h["distance"] for h in near)
    assert all(h["label"] != start["label"] for h in far)


def test_bad_order_parameters_are_422(client: TestClient, media: Media) -> None:
    files = {"file": ("q", media.pngs[0], "application/octet-stream")}
    r = client.post("/search", params={"order": "sideways"}, files=files)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_parameters"
    r = client.post("/search", params={"order": "farthest", "max_distance": 0.5}, files=files)
    assert r.status_code == 422 and "max_distance" in r.json()["error"]["message"]
