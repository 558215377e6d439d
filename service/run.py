"""`python -m service.run` (what `make run` calls): make sure the index is current, then serve.

1. Connect to Weaviate (the embedded server is started here and stays up while we serve).
2. Index when the collection is missing or does not hold the loaded checkpoint's version
   (a second start finds it current and skips straight to serving). A partial index of
   the current version is completed by `make index`, which skips what is already stored.
3. Serve with uvicorn on HOST:PORT (WORKERS processes). Ctrl-C stops uvicorn gracefully,
   then closing our client stops the embedded Weaviate.
"""

import logging
import logging.config
import sys

import uvicorn
import weaviate

from indexer import pipeline, store
from indexer.settings import IndexerSettings
from models.encoders import file_version
from service.logs import logging_config
from service.settings import ServiceSettings

log = logging.getLogger("service.run")


def index_reason(client: weaviate.WeaviateClient, settings: ServiceSettings, version: str) -> str | None:
    """Why the index must be (re)built for this model version, or None when it is current."""
    if not client.collections.exists(settings.collection):
        return f"collection {settings.collection!r} does not exist"
    versions = store.model_versions(client.collections.get(settings.collection))
    if version not in versions:
        found = versions or "empty"
        return f"collection {settings.collection!r} holds no items of model version {version} ({found})"
    others = {v: n for v, n in versions.items() if v != version}
    if others:
        return f"collection {settings.collection!r} still holds items of other model versions {others}"
    return None


def ensure_index(client: weaviate.WeaviateClient, settings: ServiceSettings) -> bool:
    version = file_version(settings.checkpoint)
    reason = index_reason(client, settings, version)
    if reason is None:
        log.info("index is current for model version %s; not re-indexing", version)
        return True
    log.info("indexing with model version %s: %s", version, reason)
    report = pipeline.run(IndexerSettings(), progress=True)
    for key, why in report.failures[:20]:
        log.error("not indexed: %s: %s", key, why)
    for problem in report.problems:
        log.error("index check failed: %s", problem)
    log.info(
        "indexed %d items (%d already there) in %.1fs",
        report.written,
        report.skipped,
        report.seconds["total"],
    )
    return report.ok


def serve(settings: ServiceSettings) -> None:
    uvicorn.run(
        "service.main:create_app",
        factory=True,  # each worker builds its own app (and lifespan) from the environment
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_config=logging_config(settings.log_level),
        access_log=False,  # the app logs one JSON line per request itself
        timeout_graceful_shutdown=10,
    )


def main() -> int:
    settings = ServiceSettings()
    logging.config.dictConfig(logging_config(settings.log_level))
    if not settings.checkpoint.is_file():
        log.error(
            "checkpoint not found: %s (set CHECKPOINT, or train one with `make train`)", settings.checkpoint
        )
        return 2
    try:
        client = store.connect(settings)
    except store.StoreUnavailable as exc:
        log.error("Weaviate unavailable: %s", exc)
        return 2
    try:
        if not ensure_index(client, settings):
            log.error("indexing failed; fix the errors above (or run `make index`) and start again")
            return 1
        log.info("serving on http://%s:%d (docs at /docs)", settings.host, settings.port)
        serve(settings)
    except KeyboardInterrupt:
        pass  # uvicorn re-raises the Ctrl-C it handled; shutting down is what we want
    finally:
        client.close()  # last user of the embedded server: stops it cleanly
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
