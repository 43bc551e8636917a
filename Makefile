# edgevision: the front door. `make demo` and `make test` work on a fresh machine with Python 3.11 + make.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
RUN ?= runs/demo
OUT ?= out
ZOO ?= ../shared/zoo
EPOCHS ?=
# pytest-xdist workers for make test / test-fast (tests/conftest.py groups the tests)
JOBS ?= 2
export TF_USE_LEGACY_KERAS := 1
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: help venv install install-edge demo test test-fast test-board system-deps helper-venvs clean

help:
	@echo "make demo   - create $(VENV), install, generate data, train, export, run the edge runtime; results in $(OUT)/"
	@echo "make test   - install what the tests need (system packages too, when root) and run the test suite"
	@echo "make test-fast - the quick tier for development: every test not marked slow"
	@echo "make test-board [SUITE=bookworm|trixie] - the emulated arm64 board tests (qemu; 10-25 min): flash, run, bench, roll back"
	@echo "make install-edge - install only the device runtime (what a Raspberry Pi or Jetson needs)"
	@echo "make bundle DEVICE=rpi5 MODEL=runs/NAME/export   - a versioned bundle for a board (devices/*.toml)"
	@echo "make flash DEVICE=rpi5 HOST=pi@cam1.local [PORT=22 KEY=~/.ssh/id_ed25519] - install and restart the service"
	@echo "make rollback HOST=...   make fleet INVENTORY=devices/fleet.ini MODEL=...   make bench DEVICE=... HOST=..."
	@echo "make device-sim [SUITE=bookworm|trixie] - an emulated arm64 board (qemu-user) with sshd on 127.0.0.1; make device-sim-stop"

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check uv==0.13.8

venv: $(PY)

# Host install: training, export, edge runtime and test tools, editable.
$(VENV)/.installed: pyproject.toml | $(PY)
	$(UV) pip install --python $(PY) --compile-bytecode -e ".[edge,train,deploy,dev]"
	touch $@

install: $(VENV)/.installed

install-edge: | $(PY)
	$(UV) pip install --python $(PY) --compile-bytecode -e ".[edge]"

demo: install
	$(PY) -m tools.demo --run $(RUN) --out $(OUT) --zoo $(ZOO) $(if $(EPOCHS),--epochs $(EPOCHS))

# System packages some tests drive for real (sshd, rsync, chromium, GStreamer RTSP server, ffmpeg).
# Installed only when missing and only when we are root with apt-get; otherwise those tests say why they skip.
SYSTEM_PACKAGES := openssh-server openssh-client rsync chromium ffmpeg gstreamer1.0-tools \
	gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly gstreamer1.0-rtsp \
	gir1.2-gst-rtsp-server-1.0 python3-gi python3-venv xvfb xdotool debootstrap qemu-user-static binfmt-support
system-deps:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	  if [ -n "$$missing" ]; then echo "installing system packages:" $$missing; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; fi; \
	else echo "not root or no apt-get: system packages not installed (tests that need them will skip)"; fi

# Helper venvs some tests run the runtime in (made here, never by a test fixture): the oldest runtime we support
# (tflite-runtime 2.14 with numpy<2, tests/optimize/test_min_runtime.py) and OpenCV's GUI build
# (tests/pipeline/test_display_window.py).
HELPER_VENVS := .venv-tflite214/.installed .venv-gui/.installed
helper-venvs: $(HELPER_VENVS)

.venv-tflite214/.installed: | $(PY)
	$(UV) venv -q --python 3.11 $(@D)
	$(UV) pip install -q --python $(@D)/bin/python "tflite-runtime==2.14.0" "numpy<2"
	touch $@

.venv-gui/.installed: | $(PY)
	$(UV) venv -q --python 3.11 $(@D)
	$(UV) pip install -q --python $(@D)/bin/python "opencv-python==4.11.0.86" "numpy>=1.26" "ai-edge-litert==2.3.0"
	touch $@

# --durations: the 40 slowest set-ups and tests end every run, so a CI log says where the suite's time goes
test: install system-deps helper-venvs
	$(PY) -m pytest -q -n $(JOBS) --dist loadgroup --no-loadscope-reorder --durations=40

# The emulated Raspberry Pi (arm64 Debian under qemu-user, docs/devices.md): flash, run, bench, roll back.
# SUITE=trixie (Python 3.13) tests on that root instead; SUITE defaults to bookworm (devices/flash.mk).
test-board: install system-deps
	EDGEVISION_SIM_SUITE="$(SUITE)" $(PY) -m pytest -q -m qemu

# The development tier: everything not marked slow (training, conversion, sshd, browser, X, GStreamer, qemu).
test-fast: install
	$(PY) -m pytest -q -m "not slow" -n $(JOBS) --dist loadgroup --no-loadscope-reorder

clean:
	rm -rf $(OUT) runs/demo data/synth data/synth-* .pytest_cache

include devices/flash.mk
