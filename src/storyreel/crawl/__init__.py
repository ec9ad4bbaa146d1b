"""Story links' tools: safe fetch (safety, fetch, charset), text extraction (extract), chunking (chunk).

A leaf package: it knows nothing of the project folders. The story-link stage that
uses it for the main worker's ingest is `storyreel.ingest.story`.
"""
