"""The container's health check: healthy while the coordinator answers HTTP.

For the main worker that is its own port; for a render node, the main worker it serves
(STORYREEL_SERVER), so `docker ps` shows a node that cannot reach its farm. Any HTTP
answer counts (the dashboard redirects, /metrics may ask for the token): the server is
up. STORYREEL_HEALTH_URL overrides the address. Exit 0 healthy, 1 unhealthy.
"""

from __future__ import annotations

import os
import sys

import httpx

# The main worker's default port inside the image (Dockerfile: EXPOSE 8765).
MAIN_URL = "http://127.0.0.1:8765/"
# Below the HEALTHCHECK --timeout, so a hung server reads as unhealthy, not as a timeout.
TIMEOUT_SECONDS = 5.0


def target() -> str:
    return os.environ.get("STORYREEL_HEALTH_URL") or os.environ.get("STORYREEL_SERVER") or MAIN_URL


def main() -> int:
    url = target()
    try:
        response = httpx.get(url, timeout=TIMEOUT_SECONDS, follow_redirects=False)
    except httpx.HTTPError as exc:
        print(f"unhealthy: {url} does not answer: {exc}", file=sys.stderr)
        return 1
    if response.status_code >= 500:
        print(f"unhealthy: {url} answered {response.status_code}", file=sys.stderr)
        return 1
    print(f"healthy: {url} answered {response.status_code}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
