"""Users' items in Weaviate, for the service: store.user_items run through the gateway's guard
(worker thread, deadline, fail-fast), with the cap check and the write under one lock."""

import threading
import uuid
from collections.abc import Sequence

from weaviate.collections import Collection

import store
from service.search.errors import IndexMissing, UserItemsFull
from service.search.store_gateway import StoreGateway
from service.settings import ServiceSettings
from store import user_items
from store.user_items import UserItem


class UserItemStore:
    def __init__(self, gateway: StoreGateway, settings: ServiceSettings) -> None:
        self.gateway = gateway
        self.settings = settings
        self.name = user_items.user_collection_name(settings)
        self._write_lock = threading.Lock()  # count, check and write as one step in this worker
        self._ensured = False

    def _records(self, create: bool) -> Collection | None:
        """The records' collection; None when it does not exist and create is False."""
        client = self.gateway.client
        if not self._ensured:
            if not create and not client.collections.exists(self.name):
                return None
            user_items.ensure_user_collection(client, self.settings)
            self._ensured = True
        return client.collections.get(self.name)

    async def get(self, item_id: uuid.UUID) -> UserItem | None:
        def read() -> UserItem | None:
            records = self._records(create=False)
            return None if records is None else user_items.get_user_item(records, item_id)

        return await self.gateway.call(read)

    async def media(self, item_id: uuid.UUID) -> tuple[bytes, str] | None:
        def read() -> tuple[bytes, str] | None:
            records = self._records(create=False)
            return None if records is None else user_items.get_user_media(records, item_id)

        return await self.gateway.call(read)

    async def page(self, limit: int, offset: int) -> tuple[list[UserItem], int]:
        def read() -> tuple[list[UserItem], int]:
            records = self._records(create=False)
            if records is None:
                return [], 0
            return user_items.list_user_items(records, limit, offset), user_items.count_user_items(records)

        return await self.gateway.call(read)

    async def add(self, item: UserItem, media: bytes, vector: Sequence[float]) -> tuple[UserItem, bool]:
        """(the stored item, True when it was added now, False when these bytes with this label
        were added before), once a search can return it. UserItemsFull past MAX_USER_ITEMS."""

        def write() -> tuple[UserItem, bool]:
            searched = self.gateway.collection
            uid = uuid.UUID(item.id)
            with self._write_lock:
                # never write into a missing collection: Weaviate's auto-schema would create it
                # with guessed properties, and the indexer would then keep that schema
                if not self.gateway.client.collections.exists(self.settings.collection):
                    raise IndexMissing(
                        f"collection {self.settings.collection!r} does not exist yet: run the indexer"
                    )
                records = self._records(create=True)
                assert records is not None
                stored = user_items.get_user_item(records, uid)
                if stored is None:
                    cap = self.settings.max_user_items
                    full = f"{cap} user items are stored already (MAX_USER_ITEMS): delete some first"
                    if user_items.count_user_items(records) >= cap:
                        raise UserItemsFull(full)
                    user_items.put_user_item(records, searched, item, media, vector)
                    # The lock is this process's: another worker or api container may have
                    # passed its own count at the same moment. Over the cap, the newcomer leaves.
                    if user_items.count_user_items(records) > cap:
                        user_items.delete_user_item(records, searched, uid)
                        raise UserItemsFull(full)
                elif stored.model_version == item.model_version:
                    # its copy may be missing (a crash between the two writes, a RECREATE not
                    # yet synced): the same bytes give the same vector, so put it back now
                    user_items.ensure_copy(searched, stored, vector)
            current = (stored or item).model_version == item.model_version
            if current:  # (a record of another model version waits for the indexer's re-embedding)
                # read-your-writes: answer once a search returns it (ASYNC_INDEXING queues vectors)
                user_items.wait_searchable(searched, uid, vector, self.settings.weaviate_write_timeout_s)
            return stored or item, stored is None

        return await self.gateway.call(write)

    async def delete(self, item_id: uuid.UUID) -> bool:
        """Delete the item and its searchable copy; False when neither exists."""

        def write() -> bool:
            records = self._records(create=False)
            record = None if records is None else user_items.get_user_item(records, item_id)
            copy = store.get_item(self.gateway.collection, item_id)
            if record is None and (copy is None or copy.source != user_items.USER_SOURCE):
                return False
            if records is not None:
                user_items.delete_user_item(records, self.gateway.collection, item_id)
            else:  # a copy whose record never existed here: only the copy to remove
                self.gateway.collection.data.delete_by_id(item_id)
            return True

        return await self.gateway.call(write)
