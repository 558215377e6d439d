"""API key, CORS allow-list and security headers, through HTTP."""

import re
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from service.main import create_app
from service.settings import ServiceSettings
from tests.service.helpers import Media

KEY = "correct-horse-battery-staple"
ALLOWED = "https://search.example"


def assert_security_headers(headers: httpx.Headers) -> None:
    csp = headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "*" not in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"


def test_every_answer_carries_the_security_headers(client: TestClient, media: Media) -> None:
    for r in (
        client.get("/healthz"),
        client.get("/openapi.json"),
        client.post("/search", files={"file": ("a.png", media.pngs[0])}),
        client.post("/search", files={"file": ("a.png", b"")}),  # an error
        client.get("/no/such/route"),
        client.get("/"),
    ):
        assert_security_headers(r.headers)


def test_docs_page_csp_admits_only_its_own_inline_script(client: TestClient) -> None:
    r = client.get("/docs")
    assert r.status_code == 200 and "swagger-ui" in r.text
    assert_security_headers(r.headers)
    hashes = re.findall(r"'sha256-[A-Za-z0-9+/=]+'", r.headers["content-security-policy"])
    assert len(hashes) == r.text.count("<script>") == 1
    assert client.get("/redoc").status_code == 404  # one docs page, the one with a policy


def test_cors_is_closed_by_default(client: TestClient) -> None:
    r = client.get("/healthz", headers={"Origin": ALLOWED})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
    preflight = client.options(
        "/search", headers={"Origin": ALLOWED, "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in preflight.headers


def test_cors_allow_list(small_index: ServiceSettings, media: Media) -> None:
    settings = small_index.model_copy(update={"cors_origins": f"{ALLOWED}, https://other.example"})
    assert settings.cors_allow_list == [ALLOWED, "https://other.example"]
    with TestClient(create_app(settings)) as c:
        preflight = c.options(
            "/search",
            headers={
                "Origin": ALLOWED,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "x-api-key",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == ALLOWED
        assert "x-api-key" in preflight.headers["access-control-allow-headers"].lower()
        r = c.post("/search", files={"file": ("a.png", media.pngs[0])}, headers={"Origin": ALLOWED})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == ALLOWED
        assert "x-request-id" in r.headers["access-control-expose-headers"].lower()
        evil = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
        assert "access-control-allow-origin" not in c.options("/search", headers=evil).headers
        assert "access-control-allow-origin" not in c.get("/healthz", headers=evil).headers


@pytest.fixture(scope="module")
def keyed(small_index: ServiceSettings) -> Iterator[TestClient]:
    with TestClient(create_app(small_index.model_copy(update={"api_key": SecretStr(KEY)}))) as c:
        yield c


def test_api_key_guards_every_route_but_liveness_and_the_page(keyed: TestClient, media: Media) -> None:
    upload = {"file": ("a.png", media.pngs[0])}
    for r in (keyed.get("/healthz"), keyed.get("/"), keyed.get("/static/style.css")):
        assert r.status_code == 200, r.request.url
    near_miss = KEY[:-1] + "X"
    for wrong in ({}, {"X-API-Key": "nope"}, {"X-API-Key": near_miss}, {"Authorization": f"Basic {KEY}"}):
        for r in (
            keyed.get("/readyz", headers=wrong),
            keyed.get("/stats", headers=wrong),
            keyed.get("/metrics", headers=wrong),
            keyed.get("/docs", headers=wrong),
            keyed.get("/openapi.json", headers=wrong),
            keyed.get("/no/such/route", headers=wrong),
            keyed.post("/search", files=upload, headers=wrong),
        ):
            assert r.status_code == 401, (r.request.url, wrong)
            assert r.json()["error"]["code"] == "unauthorized"
            assert r.headers["www-authenticate"] == "Bearer" and r.headers["x-request-id"]
            assert_security_headers(r.headers)
            assert KEY not in r.text


def test_api_key_accepted_in_either_header(keyed: TestClient, media: Media) -> None:
    for header in ({"X-API-Key": KEY}, {"Authorization": f"Bearer {KEY}"}):
        ready = keyed.get("/readyz", headers=header)
        assert ready.status_code == 200, ready.text
        r = keyed.post("/search", files={"file": ("a.png", media.pngs[0])}, headers=header)
        assert r.status_code == 200, r.text
    metrics = keyed.get("/metrics", headers={"X-API-Key": KEY}).text
    rejected = r'digitbridge_http_requests_total\{method="GET",route="<unmatched>",status="401"\}'
    assert re.search(rejected, metrics)


def test_blank_api_key_means_no_key(small_index: ServiceSettings, media: Media) -> None:
    # compose passes `API_KEY=${API_KEY:-}`: an operator who set nothing gets an open service,
    # not one that asks for an empty key
    for blank in ("", "   "):
        with TestClient(create_app(small_index.model_copy(update={"api_key": SecretStr(blank)}))) as c:
            r = c.post("/search", files={"file": ("a.png", media.pngs[0])})
            assert r.status_code == 200, (blank, r.text)
            assert c.get("/stats").status_code == 200


def test_keyed_answers_are_private_to_caches(keyed: TestClient, client: TestClient, media: Media) -> None:
    """A shared cache must not hand one caller's keyed answer to someone without the key."""
    key = {"X-API-Key": KEY}
    found = keyed.post("/search", files={"file": ("a.png", media.pngs[0])}, headers=key).json()
    media_url = found["results"][0]["media_url"]
    open_media = client.get(media_url).headers["cache-control"]
    assert "public" in open_media and "max-age" in open_media  # no key: anyone may cache it
    stored = keyed.get(media_url, headers=key)
    not_modified = keyed.get(media_url, headers={**key, "If-None-Match": stored.headers["etag"]})
    assert not_modified.status_code == 304
    emap = keyed.get("/map", headers=key)
    for r in (stored, not_modified, emap, keyed.get("/stats", headers=key)):
        directives = [d.strip() for d in r.headers["cache-control"].split(",")]
        assert "private" in directives and "public" not in directives, (r.request.url, directives)
    assert "max-age=86400" in stored.headers["cache-control"]  # the browser's own cache still helps
    assert "no-cache" in emap.headers["cache-control"]  # and the map still revalidates
    # the page's files need no key and stay shareable
    assert "private" not in keyed.get("/static/app.js").headers.get("cache-control", "")


def test_a_key_header_sent_twice_presents_no_key(keyed: TestClient) -> None:
    """Which of two keys a client meant is not for the service to guess (a dict of the headers
    used to keep the last one, so a wrong key followed by the right one passed)."""
    for name, right in (("X-API-Key", KEY), ("Authorization", f"Bearer {KEY}")):
        twice = [(name, "wrong"), (name, right)]
        r = keyed.get("/stats", headers=twice)
        assert r.status_code == 401, (name, r.text)
        assert r.json()["error"]["code"] == "unauthorized"
        assert keyed.get("/stats", headers=[(name, right)]).status_code == 200
