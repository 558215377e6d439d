"""The hostile corpus (tests/hostile/corpus.py) through real HTTP: each file gets exactly its
documented status and error code, alone and inside a batch, and a normal search still works
after every one of them."""

import httpx
import pytest

from models.preprocess import ACCEPTED
from tests.hostile.corpus import Case, corpus
from tests.service.helpers import Media

CASES = corpus()
BATCH = 4  # tests/service/helpers.MAX_BATCH: the small index's limit on files per batch


def assert_error(response: httpx.Response, status: int, code: str) -> str:
    """The response is exactly `status` with the JSON error `code`; returns its message."""
    assert response.status_code == status, response.text[:500]
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    return str(body["error"]["message"])


def assert_still_serving(http: httpx.Client, media: Media) -> None:
    r = http.post("/search", files={"file": ("zero.png", media.pngs[0], "image/png")})
    assert r.status_code == 200, r.text[:500]
    assert r.json()["results"]


def test_the_corpus_is_large_and_deterministic() -> None:
    again = corpus()
    assert len(CASES) >= 50
    assert len({c.name for c in CASES}) == len(CASES), "case names must be unique"
    assert [c.data for c in again] == [c.data for c in CASES]
    assert all(400 <= c.status < 500 for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_hostile_upload_gets_its_documented_4xx(http: httpx.Client, media: Media, case: Case) -> None:
    r = http.post(case.path, files={"file": (case.filename, case.data, "application/octet-stream")})
    message = assert_error(r, case.status, case.code)
    if case.code == "unsupported_media_type" and case.path == "/search":  # unknown type: name the accepted
        assert ACCEPTED in message
    assert_still_serving(http, media)


def test_hostile_files_in_a_batch_fail_alone(http: httpx.Client, media: Media) -> None:
    """Each file of a batch gets the status and code it gets alone; the good file in each batch
    still gets its results."""
    anywhere = [c for c in CASES if c.path == "/search"]
    for start in range(0, len(anywhere), BATCH - 1):
        group = anywhere[start : start + BATCH - 1]
        files = [("files", (c.filename, c.data, "application/octet-stream")) for c in group]
        files.append(("files", ("zero.png", media.pngs[0], "image/png")))
        r = http.post("/search/batch", files=files)
        assert r.status_code == 200, r.text[:500]
        slots = r.json()["results"]
        assert [s["index"] for s in slots] == list(range(len(files)))
        for case, slot in zip(group, slots, strict=False):
            assert (slot["status"], slot["error"]["code"]) == (case.status, case.code), case.name
            assert slot["result"] is None
        assert slots[-1]["status"] == 200 and slots[-1]["result"]["results"]
