"""Can searches work? The store's half of readiness, one blocking check for the gateway to run."""

from collections.abc import Callable
from dataclasses import dataclass

import weaviate

import store
from service.search.vector_index_watch import VectorIndexWatch

STORE_CHECKS = ("weaviate", "collection", "model_version", "vector_index")


@dataclass(frozen=True)
class Readiness:
    checks: dict[str, bool]  # each of STORE_CHECKS: passed or not
    reasons: list[str]  # why not, in words for an operator

    @property
    def ready(self) -> bool:
        return all(self.checks.values())

    @classmethod
    def failed(cls, reason: str) -> "Readiness":
        return cls(dict.fromkeys(STORE_CHECKS, False), [reason])


def check_store(
    client_of: Callable[[], weaviate.WeaviateClient],
    settings: store.StoreSettings,
    model_version: str,
    watch: VectorIndexWatch,
) -> Readiness:
    """Weaviate answers, the collection is current for the loaded model (store.index_problems),
    and its vector index holds every object (VectorIndexWatch). Blocking: run it in a thread.

    `client_of` is called inside the check, so a client that cannot be opened is a reason too.
    """
    supervised = store.supervisor_status(settings)
    if supervised is not None and not supervised.up:
        # the embedded server is being restarted, or its vector index verified and repaired
        return Readiness.failed(f"embedded Weaviate: {supervised.state}")
    checks = dict.fromkeys(STORE_CHECKS, False)
    reasons: list[str] = []
    try:
        client = client_of()
        checks["weaviate"] = bool(client.is_ready())
        if not checks["weaviate"]:
            reasons.append("Weaviate does not report ready")
        else:
            name = settings.collection
            checks["collection"] = bool(client.collections.exists(name))
            reasons = store.index_problems(client, name, model_version)
            checks["model_version"] = checks["collection"] and not reasons
            if checks["model_version"]:
                reasons = watch.problems(client, name)
                checks["vector_index"] = not reasons
    except Exception as exc:  # noqa: BLE001 - any failure here means "not ready", with the reason
        reasons.append(f"Weaviate unreachable: {exc}")
    return Readiness(checks, reasons)
