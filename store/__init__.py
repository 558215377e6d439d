"""The Weaviate side of DigitBridge, shared by the indexer (writes) and the service (reads).

One module per job: `settings` (where the server is), `connection` and `async_connection`
(open a client), `schema` (the collection), `queries`, `grpc_search` (the service's search)
and `map_reads` (reads), `integrity` and `repair` (does the vector index hold every object;
re-index what it lacks), `errors`;
`embedded/` runs a local server (`server`: start and share it; `server_process`: launch the
binary; `supervisor`: restart it when it dies).
The names below are the package's public surface; docs/ARCHITECTURE.md explains the design.
"""

from store.connection import connect
from store.embedded.server import WEAVIATE_VERSION, embedded_binary, server_pid
from store.embedded.supervisor import SupervisorStatus, supervisor_status
from store.errors import StoreUnavailable
from store.integrity import (
    RepairBusy,
    VectorIndexCheck,
    ensure_vector_index,
    indexing_state,
    vector_index_shortfall,
    wait_indexed,
)
from store.queries import (
    METADATA_PROPERTIES,
    Hit,
    Item,
    SearchRequest,
    counts,
    get_item,
    get_item_and_vector_async,
    get_media,
    get_vector,
    index_problems,
    model_versions,
    search,
    search_with,
)
from store.schema import (
    NAMESPACE,
    create_collection,
    ensure_collection,
    object_uuid,
    wait_for_replicas,
)
from store.settings import StoreSettings

__all__ = [
    "METADATA_PROPERTIES",
    "NAMESPACE",
    "WEAVIATE_VERSION",
    "Hit",
    "Item",
    "RepairBusy",
    "StoreSettings",
    "StoreUnavailable",
    "SupervisorStatus",
    "VectorIndexCheck",
    "connect",
    "counts",
    "create_collection",
    "embedded_binary",
    "ensure_vector_index",
    "ensure_collection",
    "get_item",
    "get_item_and_vector_async",
    "get_media",
    "get_vector",
    "index_problems",
    "indexing_state",
    "model_versions",
    "object_uuid",
    "wait_for_replicas",
    "search",
    "search_with",
    "SearchRequest",
    "server_pid",
    "supervisor_status",
    "vector_index_shortfall",
    "wait_indexed",
]
