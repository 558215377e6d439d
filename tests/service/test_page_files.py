"""The page and its files through StaticFiles (service/api/routes/page.py): the page's own
headers on every file, the JSON 404, nothing outside service/static, nothing in the OpenAPI
schema. No Weaviate: the app's lifespan never runs, and the page needs nothing it loads."""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.routing import Mount

from service.api.routes.page import CSP, PAGE_HEADERS, STATIC_DIR, PageFiles
from service.main import create_app
from service.settings import ServiceSettings


@pytest.fixture(scope="module")
def page_client() -> Iterator[TestClient]:
    yield TestClient(create_app(ServiceSettings()))  # no `with`: the lifespan stays off


def assert_page_headers(headers: object) -> None:
    for name, value in PAGE_HEADERS.items():
        assert headers[name] == value, name  # type: ignore[index]


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/", "text/html; charset=utf-8"),
        ("/static/app.js", "text/javascript; charset=utf-8"),
        ("/static/recorder-worklet.js", "text/javascript; charset=utf-8"),
        ("/static/style.css", "text/css; charset=utf-8"),
        ("/static/favicon.svg", "image/svg+xml"),
    ],
)
def test_every_page_file_carries_the_page_headers(page_client: TestClient, path: str, kind: str) -> None:
    r = page_client.get(path)
    assert r.status_code == 200 and r.headers["content-type"] == kind
    assert_page_headers(r.headers)
    assert "script-src 'self'" in CSP and "unsafe" not in CSP and "blob:" in CSP


def test_the_page_is_index_html(page_client: TestClient) -> None:
    assert page_client.get("/").content == (STATIC_DIR / "index.html").read_bytes()


def test_a_revalidated_file_is_304_with_the_same_headers(page_client: TestClient) -> None:
    etag = page_client.get("/static/app.js").headers["etag"]
    r = page_client.get("/static/app.js", headers={"If-None-Match": etag})
    assert r.status_code == 304 and r.content == b""
    assert_page_headers(r.headers)


@pytest.mark.parametrize(
    "path", ["/static/missing.js", "/static/..%2Fmain.py", "/static/..%2F..%2Fservice%2Fmain.py", "/static/"]
)
def test_unknown_files_and_paths_outside_the_folder_are_json_404s(page_client: TestClient, path: str) -> None:
    r = page_client.get(path)
    assert r.status_code == 404, path
    assert r.json()["error"]["code"] == "not_found" and "no static file" in r.json()["error"]["message"]


def test_only_the_page_kinds_of_file_are_served(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not part of the page")
    (tmp_path / "app.js").write_text("// part of the page")
    app = Starlette(routes=[Mount("/static", PageFiles(directory=tmp_path))])
    with TestClient(app, raise_server_exceptions=False) as c:
        assert c.get("/static/app.js").status_code == 200
        assert c.get("/static/notes.txt").status_code == 404
        assert c.post("/static/app.js").status_code == 405


def test_the_page_is_not_in_the_api_schema(page_client: TestClient) -> None:
    paths = page_client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p == "/" or p.startswith("/static")]


def test_page_files_are_counted_under_one_route(page_client: TestClient) -> None:
    page_client.get("/static/app.js")
    page_client.get("/static/style.css")
    text = page_client.get("/metrics").text
    routes = set(re.findall(r'digitbridge_http_requests_total\{method="GET",route="([^"]+)"', text))
    assert "/static/{path}" in routes and not [r for r in routes if r.startswith("/static/") and "{" not in r]
