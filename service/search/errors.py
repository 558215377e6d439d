"""What a search can fail with, in the search's own words.

The search side knows nothing of HTTP: service/api/errors.py maps each of these to a status
and an error code (SEARCH_ERRORS). Each message is written for the client.
"""

from uuid import UUID


class SearchError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ItemNotFound(SearchError):
    """No indexed item has this id."""

    def __init__(self, item_id: UUID) -> None:
        super().__init__(f"no indexed item with id {item_id}")
        self.item_id = item_id


class MapUnavailable(SearchError):
    """The index holds too few items of the loaded model to draw a map."""


class HeavyLaneFull(SearchError):
    """As many large uploads as the heavy lane holds are being prepared already."""


class UnknownDigitWord(SearchError):
    """A text query that names no digit in any language the service knows."""


class ReadOnly(SearchError):
    """READ_ONLY is set: the index takes no additions or deletions."""


class NotUserItem(SearchError):
    """The item belongs to an indexed data set: only a user's own items can be deleted."""


class UserItemsFull(SearchError):
    """MAX_USER_ITEMS items have been added already."""


class IndexMissing(SearchError):
    """The searched collection does not exist yet (the indexer has not run): nothing can be added."""
