"""GET /docs works offline: every file the page names is served by this service, nothing
comes from another host, and its policy admits only this origin (+ its one inline script)."""

import re

from fastapi.testclient import TestClient
from pydantic import SecretStr

from service.main import create_app
from service.settings import ServiceSettings


def referenced_urls(html: str) -> list[str]:
    """Every src/href of the page, and every URL its inline script names."""
    attributes = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    in_script = re.findall(r"""url:\s*["']([^"']+)["']""", html)
    return attributes + in_script


def test_docs_reference_no_other_host(client: TestClient) -> None:
    r = client.get("/docs")
    assert r.status_code == 200 and "SwaggerUIBundle" in r.text
    assert "://" not in r.text and "//cdn" not in r.text, "the docs page names another host"
    urls = referenced_urls(r.text)
    assert "/static/swagger-ui/swagger-ui-bundle.js" in urls and "/static/swagger-ui/swagger-ui.css" in urls
    assert all(u.startswith("/") and not u.startswith("//") for u in urls), urls


def test_docs_policy_allows_only_self_and_its_inline_script(client: TestClient) -> None:
    csp = client.get("/docs").headers["content-security-policy"]
    sources = {d.split()[0]: d.split()[1:] for d in (part.strip() for part in csp.split(";")) if d}
    hashes = re.findall(r"'sha256-[A-Za-z0-9+/=]+'", csp)
    assert sources["script-src"] == ["'self'", *hashes] and len(hashes) == 1
    assert sources["default-src"] == ["'self'"] and sources["style-src"] == ["'self'"]
    assert sources["connect-src"] == ["'self'"] and sources["frame-ancestors"] == ["'none'"]
    assert "http" not in csp and "unsafe" not in csp and "*" not in csp


def test_every_file_the_docs_name_is_served(client: TestClient) -> None:
    page = client.get("/docs").text
    for url in referenced_urls(page):
        r = client.get(url)
        assert r.status_code == 200 and r.content, url
    script = client.get("/static/swagger-ui/swagger-ui-bundle.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert "SwaggerUIBundle" in script.text and len(script.content) > 500_000  # the real bundle
    style = client.get("/static/swagger-ui/swagger-ui.css")
    assert style.headers["content-type"].startswith("text/css") and ".swagger-ui" in style.text
    # Swagger UI 5 (FastAPI's schema is OpenAPI 3.1, which 4.x cannot render)
    assert client.get("/openapi.json").json()["openapi"].startswith("3.1")
    assert re.search(r'PACKAGE_VERSION:"5\.\d+\.\d+"', script.text)


def test_only_the_two_swagger_files_are_served(client: TestClient) -> None:
    for name in ("index.html", "swagger-ui.js", "..%2F..%2Fcore.py", "redoc.standalone.js", "favicon.png"):
        r = client.get(f"/static/swagger-ui/{name}")
        assert r.status_code == 404, (name, r.status_code)
        assert r.json()["error"]["code"]


def test_swagger_files_are_public_when_an_api_key_is_set(small_index: ServiceSettings) -> None:
    keyed = small_index.model_copy(update={"api_key": SecretStr("docs-test-key")})
    with TestClient(create_app(keyed)) as c:
        assert c.get("/static/swagger-ui/swagger-ui.css").status_code == 200
        assert c.get("/docs").status_code == 401
        assert c.get("/docs", headers={"X-API-Key": "docs-test-key"}).status_code == 200
