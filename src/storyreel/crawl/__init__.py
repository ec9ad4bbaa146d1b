"""Story links: safe fetch (safety, fetch, charset), text extraction (extract), chunking (chunk).

`links.LinkProcessor` ties them together for the main worker's ingest.
"""
