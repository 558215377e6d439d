"""The Weaviate side of DigitBridge, shared by the indexer (writes) and the service (reads).

One module per job: `settings` (where the server is), `connection` (open a client),
`embedded` (run and share a local server), `schema` (the collection), `queries` (reads),
`integrity` (does the vector index hold every object; repair it), `server_process` (launch the
server binary), `supervisor` (restart the embedded server when it dies).
The names below are the package's public surface; docs/ARCHITECTURE.md explains the design.
"""

from indexer.store.connection import connect
from indexer.store.embedded import WEAVIATE_VERSION, embedded_binary, server_pid
from indexer.store.errors import StoreUnavailable
from indexer.store.integrity import (
    RepairBusy,
    VectorIndexCheck,
    ensure_vector_index,
    indexing_state,
    vector_index_shortfall,
    wait_indexed,
)
from indexer.store.queries import (
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
    search_async,
    search_with,
)
from indexer.store.schema import (
    NAMESPACE,
    create_collection,
    ensure_collection,
    object_uuid,
    wait_for_replicas,
)
from indexer.store.settings import StoreSettings
from indexer.store.supervisor import SupervisorStatus, supervisor_status

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
    "search_async",
    "search_with",
    "SearchRequest",
    "server_pid",
    "supervisor_status",
    "vector_index_shortfall",
    "wait_indexed",
]
