"""Health, readiness, stats, metrics, request ids, logs, OpenAPI, lifespan."""

import json
import logging
import re
import time
from pathlib import Path

import pytest
import torch
import weaviate
from fastapi import FastAPI
from fastapi.testclient import TestClient

import store
from models.runtime import file_version
from service.logs import JsonFormatter
from service.main import create_app
from service.settings import ServiceSettings
from tests.conftest import make_checkpoint
from tests.service.helpers import SMALL_LIMIT, Media, build_index, settings_for
from tests.store.lost_vectors import short_index

READY_CHECKS = {
    "encoders": True,
    "weaviate": True,
    "collection": True,
    "model_version": True,
    "vector_index": True,
}


def test_healthz(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_readyz_when_everything_is_there(client: TestClient) -> None:
    r = client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "ready" and all(r.json()["checks"].values())
    assert r.json()["reasons"] == []


def test_readyz_503_for_a_missing_collection(small_index: ServiceSettings, media: Media) -> None:
    missing = small_index.model_copy(update={"collection": "NoSuchCollection"})
    with TestClient(create_app(missing)) as c:
        r = c.get("/readyz")
        assert r.status_code == 503
        assert r.json()["checks"] == {
            "encoders": True,
            "weaviate": True,
            "collection": False,
            "model_version": False,
            "vector_index": False,
        }
        assert "does not exist" in r.json()["reasons"][0]
        r = c.post("/search", files={"file": ("a.png", media.pngs[0])})
        assert r.status_code == 503 and r.headers["retry-after"]
        assert r.json()["error"]["code"] == "weaviate_unavailable"


def readiness(settings: ServiceSettings) -> tuple[int, dict]:
    with TestClient(create_app(settings)) as c:
        r = c.get("/readyz")
        return r.status_code, r.json()


def test_readyz_503_for_another_model_version(small_index: ServiceSettings, tmp_path: Path) -> None:
    other = make_checkpoint(tmp_path / "other.pt", seed=1)
    status, body = readiness(small_index.model_copy(update={"checkpoint": other}))
    assert status == 503
    assert body["checks"] == {**READY_CHECKS, "model_version": False, "vector_index": False}
    reasons = " ".join(body["reasons"])
    assert "no items of model version" in reasons and "other model versions" in reasons


def test_readyz_503_for_a_mixed_version_index(
    small_index: ServiceSettings, weaviate_client: weaviate.WeaviateClient
) -> None:
    """Vectors of two checkpoints must never be ranked together: one stale object is enough."""
    build_index(small_index, "SvcMixed", small_index.checkpoint, limit=5)
    collection = weaviate_client.collections.get("SvcMixed")
    some = next(iter(collection.iterator(include_vector=True, return_properties=store.METADATA_PROPERTIES)))
    stale = {**some.properties, "name": "stale", "model_version": "0123456789ab"}
    collection.data.insert(stale, vector=some.vector["default"])
    status, body = readiness(small_index.model_copy(update={"collection": "SvcMixed"}))
    assert status == 503
    assert body["checks"] == {**READY_CHECKS, "model_version": False, "vector_index": False}
    assert "other model versions" in " ".join(body["reasons"]) and "0123456789ab" in " ".join(body["reasons"])


@pytest.mark.slow
def test_readyz_503_for_a_vector_index_short_of_its_objects(service_checkpoint: Path, tmp_path: Path) -> None:
    """Objects stored and counted, but some in no search result: not ready, and saying why."""
    version = file_version(service_checkpoint)
    with short_index(tmp_path, "SvcShort", 3000, model_version=version) as lost:
        settings = settings_for(lost.settings, checkpoint=service_checkpoint, device="cpu")
        with TestClient(create_app(settings)) as c:
            start = time.perf_counter()
            while (r := c.get("/readyz")).status_code != 503:  # once the first check has run
                assert time.perf_counter() - start < 30, r.text
                time.sleep(0.1)
            first_s = time.perf_counter() - start
            assert r.json()["checks"] == {**READY_CHECKS, "vector_index": False}
            (reason,) = r.json()["reasons"]
            assert "short of the object store" in reason and "of 3000 objects" in reason, reason
            start = time.perf_counter()
            assert c.get("/readyz").status_code == 503
            again_s = time.perf_counter() - start

            client = store.connect(lost.settings)
            try:
                check = store.ensure_vector_index(client, "SvcShort", lost.settings)
                assert check.missing and check.ok
            finally:
                client.close()
            start = time.perf_counter()
            while (r := c.get("/readyz")).status_code != 200:
                assert time.perf_counter() - start < 10, r.text
                time.sleep(0.1)
            assert r.json()["checks"] == READY_CHECKS
            ready_s = time.perf_counter() - start
            start = time.perf_counter()
            for _ in range(20):
                assert c.get("/readyz").status_code == 200
            cached_ms = (time.perf_counter() - start) / 20 * 1000
        print(
            f"\nshort index ({len(check.missing)} of 3000 missing): first /readyz 503 in "
            f"{first_s * 1000:.0f} ms, next {again_s * 1000:.0f} ms; ready {ready_s:.1f}s after "
            f"the repair; a poll then {cached_ms:.1f} ms"
        )


def test_stats(client: TestClient, app: FastAPI) -> None:
    r = client.get("/stats")
    assert r.status_code == 200, r.text
    body = r.json()
    assert sum(body["counts"]["image"].values()) == SMALL_LIMIT
    assert sum(body["counts"]["audio"].values()) == SMALL_LIMIT
    assert body["total"] == 2 * SMALL_LIMIT
    assert set(body["counts"]["image"]) == {str(d) for d in range(10)}
    version = app.state.resources.encoders.model_version
    assert body["model_version"] == version and body["indexed_model_versions"] == {version: 2 * SMALL_LIMIT}
    assert body["device"] == "cpu"
    assert body["weaviate_version"] == store.WEAVIATE_VERSION


def test_metrics_per_route_template_and_status(client: TestClient, media: Media) -> None:
    client.post("/search", files={"file": ("a.png", media.pngs[0])})
    client.post("/search", files={"file": ("a.png", b"")})
    client.get("/items/00000000-0000-0000-0000-000000000000")
    client.get("/definitely/not/here")
    text = client.get("/metrics").text
    assert client.get("/metrics").headers["content-type"].startswith("text/plain")

    def count(method: str, route: str, status: int) -> float:
        labels = f'method="{method}",route="{re.escape(route)}",status="{status}"'
        pattern = rf"digitbridge_http_requests_total{{{labels}}} (\S+)"
        match = re.search(pattern, text)
        return float(match.group(1)) if match else 0.0

    assert count("POST", "/search", 200) >= 1
    assert count("POST", "/search", 400) >= 1
    assert count("GET", "/items/{item_id}", 404) >= 1  # the template, not the raw id
    assert count("GET", "<unmatched>", 404) >= 1
    assert "00000000-0000" not in text
    assert (
        'digitbridge_http_request_duration_seconds_bucket{le="0.005",method="POST",route="/search",status="200"}'
        in text
    )


def test_request_id_header(client: TestClient) -> None:
    r = client.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"])
    assert client.get("/healthz").headers["x-request-id"] != r.headers["x-request-id"]
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
    evil = client.get("/healthz", headers={"X-Request-ID": "x" * 500})
    assert re.fullmatch(r"[0-9a-f]{32}", evil.headers["x-request-id"])
    assert client.get("/items/zzz").headers["x-request-id"]  # errors carry it too


def test_one_json_log_line_per_request(client: TestClient, media: Media, caplog) -> None:  # type: ignore[no-untyped-def]
    with caplog.at_level(logging.INFO, logger="service.access"):
        r = client.post("/search?k=2", files={"file": ("a.png", media.pngs[0])})
    records = [rec for rec in caplog.records if rec.name == "service.access"]
    assert len(records) == 1
    line = json.loads(JsonFormatter().format(records[0]))
    assert line["request_id"] == r.headers["x-request-id"]
    assert (line["method"], line["path"], line["route"], line["status"]) == (
        "POST",
        "/search",
        "/search",
        200,
    )
    assert line["duration_ms"] > 0 and line["level"] == "info" and line["ts"].endswith("Z")


def test_openapi_models_requests_responses_and_errors(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert client.get("/docs").status_code == 200
    paths = spec["paths"]
    for path in ("/search", "/search/image", "/search/audio", "/search/batch"):
        post = paths[path]["post"]
        body = post["requestBody"]["content"]["multipart/form-data"]["schema"]
        assert body["required"] and body["properties"]
        for status in ("200", "400", "413", "415", "422", "503"):
            assert status in post["responses"], (path, status)
        assert post["responses"]["413"]["content"]["application/json"]["schema"]["$ref"].endswith(
            "/ErrorResponse"
        )
    assert paths["/search"]["post"]["responses"]["200"]["content"]["application/json"]["schema"][
        "$ref"
    ].endswith("/SearchResponse")
    for path in ("/items/{item_id}", "/items/{item_id}/media", "/items/{item_id}/similar"):
        assert {"404", "422"} <= set(paths[path]["get"]["responses"])
    assert "503" in paths["/readyz"]["get"]["responses"]
    schemas = spec["components"]["schemas"]
    assert {
        "SearchResponse",
        "SearchResult",
        "QueryInfo",
        "Timings",
        "ErrorResponse",
        "BatchResponse",
    } <= set(schemas)
    assert set(schemas["SearchResult"]["properties"]) == {
        "id", "modality", "label", "source", "name", "speaker", "distance", "media_url",
    }  # fmt: skip


def test_lifespan_opens_once_and_closes(small_index: ServiceSettings) -> None:
    threads_before = torch.get_num_threads()
    app = create_app(small_index)
    assert not hasattr(app.state, "resources")  # nothing is loaded before startup
    with TestClient(app) as c:
        resources = app.state.resources
        weaviate_client = resources.weaviate.client
        assert weaviate_client.is_connected()
        assert c.get("/readyz").status_code == 200
        assert app.state.resources is resources  # same objects for every request
    assert not weaviate_client.is_connected()
    assert not hasattr(app.state, "resources")
    assert torch.get_num_threads() == threads_before
