"""The store's half of readiness (service/search/readiness.py) against a fake client: each check
in turn, and the reason an operator reads for each failure. No Weaviate."""

from dataclasses import dataclass, field

import pytest

from service.search import readiness
from service.search.readiness import STORE_CHECKS, Readiness, check_store
from service.settings import ServiceSettings
from store import StoreUnavailable

SETTINGS = ServiceSettings(collection="Digit")
VERSION = "0123456789ab"


@dataclass
class Collections:
    present: set[str] = field(default_factory=lambda: {"Digit"})

    def exists(self, name: str) -> bool:
        return name in self.present

    def get(self, name: str) -> str:
        return f"collection {name}"


@dataclass
class FakeClient:
    ready: bool = True
    collections: Collections = field(default_factory=Collections)

    def is_ready(self) -> bool:
        return self.ready


@dataclass
class FakeWatch:
    reasons: list[str] = field(default_factory=list)

    def problems(self, client: object, collection: str) -> list[str]:
        return self.reasons


@dataclass
class Status:
    state: str

    @property
    def up(self) -> bool:
        return self.state == "up"


@pytest.fixture(autouse=True)
def index_of_this_version(monkeypatch: pytest.MonkeyPatch) -> None:
    def problems(client: FakeClient, name: str, version: str) -> list[str]:
        if not client.collections.exists(name):
            return [f"collection {name} does not exist"]
        return [] if version == VERSION else [f"no items of model version {version}"]

    monkeypatch.setattr(readiness.store, "index_problems", problems)
    monkeypatch.setattr(readiness.store, "supervisor_status", lambda settings: None)


def check(client: FakeClient, version: str = VERSION, watch: FakeWatch | None = None) -> Readiness:
    return check_store(lambda: client, SETTINGS, version, watch or FakeWatch())  # type: ignore[arg-type,return-value]


def test_ready_when_every_check_passes() -> None:
    report = check(FakeClient())
    assert report.ready and report.checks == dict.fromkeys(STORE_CHECKS, True) and report.reasons == []


def test_a_server_not_reporting_ready_stops_the_checks_there() -> None:
    report = check(FakeClient(ready=False))
    assert not report.ready and report.checks == dict.fromkeys(STORE_CHECKS, False)
    assert report.reasons == ["Weaviate does not report ready"]


def test_a_missing_collection_or_another_model_version_says_so() -> None:
    missing = check(FakeClient(collections=Collections(present=set())))
    assert missing.checks == {**dict.fromkeys(STORE_CHECKS, False), "weaviate": True}
    assert missing.reasons == ["collection Digit does not exist"]
    other = check(FakeClient(), version="ffffffffffff")
    assert other.checks == {**dict.fromkeys(STORE_CHECKS, False), "weaviate": True, "collection": True}
    assert other.reasons == ["no items of model version ffffffffffff"]


def test_a_vector_index_short_of_its_objects_is_the_last_check() -> None:
    report = check(FakeClient(), watch=FakeWatch(["the vector index of Digit is short of the object store"]))
    assert report.checks == {**dict.fromkeys(STORE_CHECKS, True), "vector_index": False}
    assert report.reasons == ["the vector index of Digit is short of the object store"]


def test_a_client_that_cannot_be_opened_is_a_reason() -> None:
    def gone() -> FakeClient:
        raise StoreUnavailable("embedded Weaviate on 127.0.0.1:8079 is not running")

    report = check_store(gone, SETTINGS, VERSION, FakeWatch())  # type: ignore[arg-type]
    assert report.checks == dict.fromkeys(STORE_CHECKS, False)
    assert report.reasons == ["Weaviate unreachable: embedded Weaviate on 127.0.0.1:8079 is not running"]


def test_a_restarting_embedded_server_is_not_asked_at_all(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readiness.store, "supervisor_status", lambda settings: Status("restarting"))
    opened: list[bool] = []

    def client_of() -> FakeClient:
        opened.append(True)
        return FakeClient()

    report = check_store(client_of, SETTINGS, VERSION, FakeWatch())  # type: ignore[arg-type]
    assert report == Readiness.failed("embedded Weaviate: restarting") and opened == []
