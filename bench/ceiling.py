"""Weaviate alone, no service in between: hey against its GraphQL endpoint with the filtered
nearVector query a search makes (same filter, limit and properties), for both targets."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import httpx

from bench.load import Request
from store import METADATA_PROPERTIES, SearchRequest

SLACK = SearchRequest.SLACK  # store.search asks for k + SLACK results; the service's default k is 5
DEFAULT_K = 5


def graphql_body(collection: str, vector: Sequence[float], target: str, limit: int) -> bytes:
    vec = ", ".join(f"{float(x):.8g}" for x in vector)
    props = " ".join(METADATA_PROPERTIES)
    query = (
        f"{{ Get {{ {collection}(nearVector: {{vector: [{vec}]}}, "
        f'where: {{path: ["modality"], operator: Equal, valueText: "{target}"}}, limit: {limit}) '
        f"{{ {props} _additional {{ id distance }} }} }} }}"
    )
    return json.dumps({"query": query}).encode()


def weaviate_requests(
    http_port: int, api_key: str, collection: str, vectors: dict[str, Sequence[float]], work_dir: Path
) -> dict[str, Request]:
    """{"to_audio": ..., "to_image": ...}: `vectors[target]` is the query vector for that target."""
    url = f"http://127.0.0.1:{http_port}/v1/graphql"
    requests = {}
    for target, vector in vectors.items():
        path = work_dir / f"graphql-{target}.json"
        path.write_bytes(graphql_body(collection, vector, target, DEFAULT_K + SLACK))
        requests[f"weaviate_to_{target}"] = Request(
            url, "POST", path, "application/json", (f"Authorization: Bearer {api_key}",)
        )
    return requests


def check_graphql(requests: dict[str, Request], collection: str) -> dict[str, int]:
    """GraphQL answers 200 even for a broken query: check the body once before the load."""
    found = {}
    with httpx.Client(timeout=30.0) as http:
        for name, r in requests.items():
            assert r.body is not None
            headers = dict(h.split(": ", 1) for h in r.headers) | {"Content-Type": "application/json"}
            res = http.post(r.url, content=r.body.read_bytes(), headers=headers)
            payload = res.json()
            if res.status_code != 200 or payload.get("errors"):
                raise RuntimeError(f"{name}: GraphQL answered {res.status_code}: {str(payload)[:500]}")
            found[name] = len(payload["data"]["Get"][collection])
            if found[name] == 0:
                raise RuntimeError(f"{name}: the query found nothing")
    return found
