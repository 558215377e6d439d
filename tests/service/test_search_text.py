"""GET /search/text: a typed digit searches both modalities through its class prototype.

The session's small index holds FSDD clips of digits 0-6 only (the first 200 of the
validation split), so the spellings run against an index of all 300 validation clips.
"""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

import store
from service.main import create_app
from service.search.digit_words import LANGUAGES, VARIANTS
from service.settings import ServiceSettings
from tests.service.helpers import REPO_CHECKPOINT, build_index, settings_for

EVERY_CLIP = 300  # the FSDD validation split: 30 clips of each digit

SPELLINGS = sorted(
    {(str(d), d) for d in range(10)}
    | {(w, d) for names in LANGUAGES.values() for d, w in enumerate(names)}
    | {(w, d) for table in VARIANTS.values() for w, d in table.items()}
)


@pytest.fixture(scope="module")
def every_digit(weaviate_settings: store.StoreSettings) -> Iterator[TestClient]:
    """Which digit a prototype finds needs the trained (committed) checkpoint."""
    service_checkpoint = REPO_CHECKPOINT.resolve()
    build_index(weaviate_settings, "SvcText", service_checkpoint, EVERY_CLIP)
    settings = settings_for(
        weaviate_settings, collection="SvcText", checkpoint=service_checkpoint, device="cpu"
    )
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.mark.parametrize("target", ["image", "audio"])
def test_every_spelling_finds_five_items_of_its_digit(every_digit: TestClient, target: str) -> None:
    """One loop per target (each request ~10 ms); a spelling's variants in other cases too."""
    wrong = []
    for word, digit in SPELLINGS:
        for typed in (word, word.upper(), f"  {word.capitalize()} "):
            r = every_digit.get("/search/text", params={"q": typed, "target": target})
            assert r.status_code == 200, (typed, r.text)
            body = r.json()
            assert body["query"]["digit"] == digit and body["target"] == target and body["k"] == 5
            labels = [h["label"] for h in body["results"]]
            if labels != [digit] * 5 or {h["modality"] for h in body["results"]} != {target}:
                wrong.append((typed, labels))
    assert not wrong, wrong


def test_the_answer_has_a_search_answer_shape(client: TestClient) -> None:
    r = client.get("/search/text", params={"q": " Zéro "})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["query"] == {"text": "zero", "digit": 0}
    assert body["target"] == "any" and body["offset"] == 0 and len(body["results"]) == 5
    assert set(body["timings_ms"]) == {"decode", "embed", "search", "total"}
    distances = [h["distance"] for h in body["results"]]
    assert distances == sorted(distances)
    assert all(h["media_url"] == f"/items/{h['id']}/media" for h in body["results"])


def test_any_searches_both_modalities(every_digit: TestClient) -> None:
    r = every_digit.get("/search/text", params={"q": "sieben", "target": "any", "k": 60})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert {h["modality"] for h in results} == {"image", "audio"}
    assert all(h["label"] == 7 for h in results[:10])


def test_paging_with_offset(client: TestClient) -> None:
    whole = client.get("/search/text", params={"q": "drei", "target": "image", "k": 10}).json()["results"]
    pages = [
        client.get("/search/text", params={"q": "drei", "target": "image", "k": 5, "offset": o}).json()
        for o in (0, 5)
    ]
    assert pages[1]["offset"] == 5
    assert [h["id"] for p in pages for h in p["results"]] == [h["id"] for h in whole]


@pytest.mark.parametrize("q", ["seventeen", "10", "sie ben", "xyz", "7 8"])
def test_unknown_words_are_422_with_examples(client: TestClient, q: str) -> None:
    r = client.get("/search/text", params={"q": q})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "unknown_digit_word"
    assert "sieben" in error["message"] and "seven" in error["message"]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"q": ""},
        {"q": "   "},
        {"q": "s" * 33},
        {"q": "7", "k": 0},
        {"q": "7", "k": 101},
        {"q": "7", "offset": -1},
    ],
)
def test_empty_too_long_or_out_of_bounds_is_422(client: TestClient, params: dict) -> None:
    r = client.get("/search/text", params=params)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "invalid_parameters"


def test_openapi_documents_the_route(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/search/text"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"q", "target", "k", "offset"}
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ok.endswith("/TextSearchResponse")
    assert "unknown_digit_word" in operation["responses"]["422"]["description"]


def test_the_api_key_guards_it(small_index: ServiceSettings) -> None:
    key = "text-query-key"
    with TestClient(create_app(small_index.model_copy(update={"api_key": SecretStr(key)}))) as keyed:
        r = keyed.get("/search/text", params={"q": "7"})
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
        r = keyed.get("/search/text", params={"q": "7"}, headers={"X-API-Key": key})
        assert r.status_code == 200, r.text
