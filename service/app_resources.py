"""What the running app holds: the encoders and the guarded Weaviate client, built by one loader."""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from models.runtime import Encoders, load_encoders
from service.middleware.admission import AdmissionLimits, SearchAdmission
from service.middleware.observability import Metrics
from service.search.embedding_map import MapCache
from service.search.preprocess_pool import PreprocessPool
from service.search.query_encoder import QueryEncoder
from service.search.store_gateway import StoreGateway
from service.search.user_item_store import UserItemStore
from service.search.vector_index_watch import VectorIndexWatch
from service.settings import ServiceSettings

log = logging.getLogger("service")


@dataclass
class AppResources:
    """Everything a request needs, created once in the app's lifespan."""

    settings: ServiceSettings
    encoders: Encoders
    weaviate: StoreGateway
    searches: SearchAdmission
    query_encoder: QueryEncoder
    user_items: UserItemStore
    embedding_map: MapCache = field(default_factory=MapCache)  # /map, rebuilt when the index changes
    vector_index_watch: VectorIndexWatch = field(default_factory=VectorIndexWatch)  # for /readyz
    _restore_threads: Callable[[], None] | None = field(default=None, repr=False)

    def close(self) -> None:
        self.query_encoder.close()
        self.weaviate.close()
        if self._restore_threads is not None:
            self._restore_threads()


def load_resources(settings: ServiceSettings, metrics: Metrics) -> AppResources:
    """Load the checkpoint, then open Weaviate (both blocking: call from a worker thread)."""
    encoders = load_encoders(settings.checkpoint, settings.device, settings.encoder_runtime)
    # One query is a tiny forward pass: intra-op threads only fight the concurrent requests
    # for the same cores. Parallelism comes from serving requests side by side.
    restore_threads = None
    if encoders.runtime == "torch" and encoders.device == "cpu":
        from models.encoders import torch_threads  # the torch engine only

        restore_threads = torch_threads(1)
    weaviate = StoreGateway(settings)
    weaviate.open()
    log.info(
        "loaded model %s on %s (%s); %s",
        encoders.model_version,
        encoders.device,
        encoders.runtime,
        "Weaviate connected" if weaviate.connected else "Weaviate not reachable, will retry",
    )
    searches = SearchAdmission(
        AdmissionLimits(
            max_searches=settings.max_searches_in_flight,
            max_bytes_held=settings.max_upload_bytes_held,
            min_bytes_per_s=settings.upload_min_bytes_per_s,
            grace_s=settings.upload_grace_s,
        )
    )
    preprocess = PreprocessPool(
        encoders.config,
        light_threads=settings.preprocess_threads,
        heavy_above=settings.heavy_upload_size,
        heavy_queue=settings.heavy_upload_queue,
        cpu_budget_s=settings.preprocess_cpu_s,
    )
    query_encoder = QueryEncoder(
        encoders,
        preprocess,
        settings.encode_batch_max,
        settings.encode_batch_wait_ms / 1000.0,
        metrics.encode_batch_size,
    )
    return AppResources(
        settings,
        encoders,
        weaviate,
        searches,
        query_encoder,
        UserItemStore(weaviate, settings),
        _restore_threads=restore_threads,
    )
