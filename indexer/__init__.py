"""Offline indexer: embeds the validation sets and writes them into Weaviate (see store.py, pipeline.py)."""
