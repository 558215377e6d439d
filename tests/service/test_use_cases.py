"""service.search.use_cases over a fake encoder and a fake store gateway: what each search asks
the store and how it assembles the answer. No Weaviate, no model, no sleeps (the end-to-end
behaviour is in test_service_search.py and test_farthest.py)."""

import uuid
from dataclasses import dataclass, field

import numpy as np
import pytest

from models.media_errors import CorruptMediaError
from service.api.uploads import Upload
from service.search import use_cases
from service.search.errors import ItemNotFound
from service.search.query_encoder import EncodedQuery
from service.search.use_cases import SearchParams
from store import Hit, Item, SearchRequest
from tests.service.helpers import in_fresh_loop

IMAGE_ID, OTHER_ID, THIRD_ID = (str(uuid.uuid4()) for _ in range(3))


def hit(item_id: str, distance: float, modality: str = "audio", label: int = 7) -> Hit:
    return Hit(item_id, modality, label, "fsdd", "validation", f"{item_id}.wav", "s", "v1", distance)  # type: ignore[arg-type]


@dataclass
class FakeGateway:
    """Answers every search with `hits` and records the requests."""

    hits: list[Hit]
    stored: dict[str, tuple[Item, list[float]]] = field(default_factory=dict)
    requests: list[SearchRequest] = field(default_factory=list)

    async def search(self, request: SearchRequest) -> list[Hit]:
        self.requests.append(request)
        return self.hits[: request.limit]

    async def get_item_and_vector(self, item_id: uuid.UUID) -> tuple[Item, list[float]] | None:
        return self.stored.get(str(item_id))


class FakeEncoder:
    """An image upload (b"png...") predicted as a 7; anything starting with b"bad" is corrupt."""

    async def encode(self, data: bytes, only: str | None = None) -> EncodedQuery:
        if data.startswith(b"bad"):
            raise CorruptMediaError("broken", "corrupt_image")
        probs = np.full(10, 0.01, np.float32)
        probs[7] = 0.91
        return EncodedQuery("image", "png", np.ones(128, np.float32) / np.sqrt(128), probs, 1.5, 0.5)


def params(**changes: object) -> SearchParams:
    base = {"target": "auto", "k": 2, "offset": 0, "max_distance": None, "order": "nearest"}
    return SearchParams(**(base | changes))  # type: ignore[arg-type]


def test_an_image_searches_the_recordings_and_reports_what_it_saw() -> None:
    gateway = FakeGateway([hit(OTHER_ID, 0.1), hit(IMAGE_ID, 0.2), hit(str(uuid.uuid4()), 0.3)])
    answer = in_fresh_loop(use_cases.search_upload(FakeEncoder(), gateway, b"png", params(), 0.0))  # type: ignore[arg-type]
    (request,) = gateway.requests
    assert request.target == "audio" and request.limit == 2 and len(request.vector) == 128
    assert answer.target == "audio" and [str(r.id) for r in answer.results] == [OTHER_ID, IMAGE_ID]
    assert (answer.query.predicted_label, answer.query.confidence) == (7, pytest.approx(0.91))
    assert (answer.timings_ms.decode, answer.timings_ms.embed) == (1.5, 0.5)


def test_target_any_searches_both_modalities() -> None:
    gateway = FakeGateway([])
    in_fresh_loop(use_cases.search_upload(FakeEncoder(), gateway, b"png", params(target="any"), 0.0))  # type: ignore[arg-type]
    assert gateway.requests[0].target is None


def test_a_broken_file_of_a_batch_gets_its_error_and_the_rest_their_answers() -> None:
    gateway = FakeGateway([hit(OTHER_ID, 0.1)])
    uploads = [Upload("a.png", b"png"), Upload("b.png", b"bad"), Upload("c.png", None)]
    outcomes = in_fresh_loop(use_cases.search_batch(FakeEncoder(), gateway, uploads, params(), 1000))  # type: ignore[arg-type]
    assert [type(o).__name__ for o in outcomes] == [
        "SearchResponse",
        "CorruptMediaError",
        "MediaTooLargeError",
    ]
    assert len(gateway.requests) == 1  # the broken and the oversized file never reach the store


def test_more_like_this_leaves_the_item_itself_out() -> None:
    item = Item(IMAGE_ID, "image", 7, "mnist", "test", "0.png", None, "v1")
    gateway = FakeGateway(
        [hit(IMAGE_ID, 0.0, "image"), hit(OTHER_ID, 0.1, "image"), hit(THIRD_ID, 0.2, "image")]
    )
    gateway.stored[IMAGE_ID] = (item, [0.1] * 128)
    answer = in_fresh_loop(
        use_cases.search_similar(gateway, uuid.UUID(IMAGE_ID), params(target="image", k=2), 0.0)  # type: ignore[arg-type]
    )
    assert gateway.requests[0].limit == 3  # one extra, for the item itself
    assert [str(r.id) for r in answer.results] == [OTHER_ID, THIRD_ID]
    assert str(answer.query.id) == IMAGE_ID and answer.target == "image"


def test_more_like_this_of_an_unknown_id_is_a_domain_error() -> None:
    with pytest.raises(ItemNotFound):
        in_fresh_loop(use_cases.search_similar(FakeGateway([]), uuid.uuid4(), params(), 0.0))  # type: ignore[arg-type]
