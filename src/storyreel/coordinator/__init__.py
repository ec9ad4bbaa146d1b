"""The main worker's side of the render farm: leases, the reaper and the HTTP API.

Who owns what:

    service.py    Coordinator, the facade: takes the lock, moves folders (lifecycle.py)
    taskqueue.py  the queue index of tasks/ (oldest first)
    claims.py     which queued task a node gets (forced encoders), moved under a new lease
    holds.py      every hold of processing/ and its lease.json; a hold ends through `end`
    leases.py     the lease.json record itself
    nodes.py      the node table; its rows' tasks are derived from the holds
    reaper.py     expiry of processing/: requeue, abandon to trash/failed/, restart grace
    grants.py     what a claim hands a node: the lease, the metadata, the files and sha256s
    upload.py     a render coming back: receive → verify (then the facade publishes)
    api.py        the HTTP routes; the wire models are storyreel.protocol's
    httperrors.py every API error as JSON and one log line; a full disk as 507 + Retry-After
    server.py     uvicorn on a thread of the main worker
"""

from __future__ import annotations

from storyreel.coordinator.api import create_app
from storyreel.coordinator.server import CoordinatorServer
from storyreel.coordinator.service import Coordinator

__all__ = ["Coordinator", "CoordinatorServer", "create_app"]
