"""The benchmark harness measures what it says: peak RSS, failures, medians, the link proxy."""

from __future__ import annotations

import functools
import http.server
import importlib.util
import sys
import threading
from pathlib import Path
from types import ModuleType

import httpx
import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _load(name: str) -> ModuleType:
    """A bench/ module under its own name; bench/ is never put on sys.path (its module
    names, e.g. `farmproc` or `media`, must not shadow the tests' own)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


harness = _load("harness")
throttle = _load("throttle")
BenchError, Sample, interleave = harness.BenchError, harness.Sample, harness.interleave
percentile, run_measured = harness.percentile, harness.run_measured
ThrottledProxy = throttle.ThrottledProxy


def test_run_measured_reports_the_peak_rss_of_the_child() -> None:
    touch_80_mib = "b = bytearray(80 * 2**20); b[::4096] = b'x' * len(b[::4096]); print('ok')"
    sample, out = run_measured([sys.executable, "-c", touch_80_mib])
    assert out.strip() == "ok"
    assert sample.peak_rss >= 80 * 2**20
    assert sample.wall > 0


def test_run_measured_names_the_failing_program() -> None:
    with pytest.raises(BenchError, match="exit code 3"):
        run_measured([sys.executable, "-c", "import sys; sys.stderr.write('boom'); sys.exit(3)"])


def test_percentile_is_nearest_rank() -> None:
    values = list(range(1, 101))
    assert percentile(values, 99) == 99
    assert percentile(values, 50) == 50
    assert percentile([7.0], 99) == 7.0


def test_interleave_runs_explanatory_variants_once() -> None:
    order: list[str] = []

    def make(name: str):
        def measure() -> Sample:
            order.append(name)
            return Sample(1.0, 0.0, 0)

        return measure

    samples = interleave({"a": make("a"), "b": make("b"), "c": make("c")}, 3, once=("c",))
    assert order == ["a", "b", "c", "a", "b", "a", "b"]
    assert [len(samples[k]) for k in "abc"] == [3, 3, 1]


def test_throttled_proxy_forwards_every_byte(tmp_path: Path) -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB
    (tmp_path / "blob.bin").write_bytes(payload)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with ThrottledProxy("127.0.0.1", server.server_address[1], 8 * 2**20) as proxy:
            response = httpx.get(proxy.url + "/blob.bin")
        assert response.status_code == 200
        assert response.content == payload
        assert proxy.bytes_down >= len(payload)
        assert proxy.bytes_up > 0
    finally:
        server.shutdown()
