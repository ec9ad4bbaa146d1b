# storyreel: `make demo` runs the whole pipeline on sample assets; `make test` runs the tests.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := ffmpeg espeak-ng chromium fontconfig fonts-dejavu-core systemd

.PHONY: help deps venv demo test lint bench bench-smoke clean

help:
	@echo "make demo   - install everything, make sample assets, render a 16:9 master and a 9:16 short, print where they are"
	@echo "make test   - install everything and run the test suite"
	@echo "make bench  - measure render, node pipeline, ingest and coordinator (writes BENCHMARKS.md)"
	@echo "make lint   - ruff"

# System tools: ffmpeg/ffprobe render and probe, espeak-ng speaks sample narration (and
# gives unknown words a pronunciation for captions), chromium runs the dashboard test
# headless, fontconfig finds caption fonts (DejaVu Sans by default), systemd-analyze checks
# the bare-metal unit files.
deps:
	@missing=""; for tool in ffmpeg ffprobe espeak-ng chromium fc-match systemd-analyze; do command -v $$tool >/dev/null || missing=1; done; \
	[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing=1; \
	if [ -n "$$missing" ]; then \
	  echo "Installing $(APT_PACKAGES) with apt-get"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(APT_PACKAGES); \
	fi

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[test,narration]'
	touch $@

venv: $(VENV)/.installed

demo: deps venv
	$(PY) scripts/demo.py

test: deps venv
	$(PY) -m pytest -q

lint: venv
	$(VENV)/bin/ruff check src tests bench scripts

bench: deps venv
	$(PY) bench/run.py

bench-smoke: deps venv
	$(PY) bench/run.py --smoke

clean:
	rm -rf $(VENV) demo build dist *.egg-info
