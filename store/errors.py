"""The one error the store raises for "Weaviate cannot answer now"."""


class StoreUnavailable(Exception):
    """Weaviate cannot be reached or did not answer in time."""
