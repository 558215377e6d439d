"""Offline indexer: embeds the validation sets and writes them into Weaviate (see store/, pipeline.py)."""
