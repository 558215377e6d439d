"""HTTP load on the running service with hey: one PNG, one WAV, a 4-file batch, "more like this",
and /healthz (the cost of HTTP alone), at each concurrency level."""

from __future__ import annotations

from pathlib import Path

import httpx

import store
from bench.load import CONTENT_TYPE, Part, Request, multipart_body

# One real upload of each kind: MNIST test image 0 (a 7) and the first FSDD validation clip.
PNG, WAV = "image/png", "audio/wav"


def service_requests(base_url: str, png: bytes, wav: bytes, work_dir: Path) -> dict[str, Request]:
    """The routes under load, their multipart bodies written to `work_dir`."""
    bodies = {
        "png": [Part("file", "query.png", PNG, png)],
        "wav": [Part("file", "query.wav", WAV, wav)],
        "batch4": [
            Part("files", "a.png", PNG, png),
            Part("files", "b.wav", WAV, wav),
            Part("files", "c.png", PNG, png),
            Part("files", "d.wav", WAV, wav),
        ],
    }
    requests: dict[str, Request] = {}
    for name, parts in bodies.items():
        path = work_dir / f"body-{name}.multipart"
        path.write_bytes(multipart_body(parts))
        route = "/search/batch" if name == "batch4" else "/search"
        requests[name] = Request(f"{base_url}{route}", "POST", path, CONTENT_TYPE)
    similar_id = store.object_uuid("mnist", "test", "0")  # an indexed image: finds recordings
    requests["similar"] = Request(f"{base_url}/items/{similar_id}/similar")
    requests["healthz"] = Request(f"{base_url}/healthz")
    return requests


def check_requests(requests: dict[str, Request]) -> dict[str, dict]:
    """Send each request once before the load: a wrong body must fail here, not as 100% errors.

    Returns the server's own timings of each search route, for the report.
    """
    answers: dict[str, dict] = {}
    with httpx.Client(timeout=30.0) as http:
        for name, r in requests.items():
            headers = {"Content-Type": r.content_type} if r.content_type else {}
            body = r.body.read_bytes() if r.body is not None else None
            res = http.request(r.method, r.url, content=body, headers=headers)
            if res.status_code != 200:
                raise RuntimeError(f"{name}: {r.method} {r.url} answered {res.status_code}: {res.text[:500]}")
            payload = res.json()
            broken = [
                s for s in payload.get("results", []) if isinstance(s, dict) and s.get("status", 200) != 200
            ]
            if broken:
                raise RuntimeError(f"{name}: a batch slot failed: {broken[0]}")
            answers[name] = {"status": res.status_code, "timings_ms": payload.get("timings_ms")}
    return answers
