"""`python -m launcher` (what `make run` and the image's default command run): make sure the
index is current, then serve. The one place the indexer and the service meet, so that neither
imports the other (see launcher/run.py)."""
