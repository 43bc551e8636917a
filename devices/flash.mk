# Device targets, included by the top-level Makefile. Every target calls `python -m deploy ...`.
#   make bundle   DEVICE=rpi5 MODEL=runs/NAME/export            (or CONFIG=pipeline.toml)
#   make flash    DEVICE=rpi5 HOST=pi@cam1.local [PORT=22] [KEY=~/.ssh/id_ed25519] [MODEL=... | BUNDLE=dir]
#   make rollback HOST=pi@cam1.local
#   make fleet    INVENTORY=devices/fleet.ini MODEL=...        (see devices/fleet.example.ini)
#   make bench    DEVICE=rpi5 HOST=pi@cam1.local BENCH_MODEL=models/ssd.tflite [RUNS=50]
#   make device-sim [SUITE=bookworm|trixie]   an emulated arm64 board on 127.0.0.1 (root; cached); prints the flash line
#   make device-sim-stop [SUITE=bookworm|trixie]   (make test-board SUITE=... tests on that root)
# Optional: PREFIX (install folder on the device, default edgevision), KNOWN_HOSTS, SOURCE, VERSION.

PY ?= .venv/bin/python
DEPLOY := $(PY) -m deploy
RUNS ?= 50

# Each optional variable becomes an option only when it is set (no empty arguments reach the tools).
_TARGET_OPTS = --host "$(HOST)" $(if $(PORT),--port "$(PORT)") $(if $(KEY),--key "$(KEY)") \
	$(if $(KNOWN_HOSTS),--known-hosts "$(KNOWN_HOSTS)") $(if $(PREFIX),--prefix "$(PREFIX)")
_BUNDLE_OPTS = $(if $(DEVICE),--device "$(DEVICE)") $(foreach m,$(MODEL),--model "$(m)") \
	$(if $(CONFIG),--config "$(CONFIG)") $(if $(SOURCE),--source "$(SOURCE)") $(if $(VERSION),--version "$(VERSION)")

_need = $(if $($(1)),,$(error $(1) is required, e.g. $(1)=$(2)))

.PHONY: bundle flash rollback fleet bench device-status device-sim device-sim-stop

bundle:
	$(call _need,DEVICE,rpi5)
	$(DEPLOY) bundle $(_BUNDLE_OPTS)

flash:
	$(call _need,HOST,pi@cam1.local)
	$(if $(BUNDLE),,$(call _need,DEVICE,rpi5))
	$(DEPLOY) flash $(_TARGET_OPTS) $(if $(BUNDLE),--bundle "$(BUNDLE)",$(_BUNDLE_OPTS))

rollback:
	$(call _need,HOST,pi@cam1.local)
	$(DEPLOY) rollback $(_TARGET_OPTS)

device-status:
	$(call _need,HOST,pi@cam1.local)
	$(DEPLOY) status $(_TARGET_OPTS)

fleet:
	$(call _need,INVENTORY,devices/fleet.ini)
	$(DEPLOY) fleet --inventory "$(INVENTORY)" $(if $(KEY),--key "$(KEY)") \
		$(if $(KNOWN_HOSTS),--known-hosts "$(KNOWN_HOSTS)") $(foreach m,$(MODEL),--model "$(m)") \
		$(if $(CONFIG),--config "$(CONFIG)") $(if $(SOURCE),--source "$(SOURCE)") $(if $(VERSION),--version "$(VERSION)")

bench:
	$(call _need,HOST,pi@cam1.local)
	$(call _need,BENCH_MODEL,models/ssd.tflite)
	$(DEPLOY) bench $(_TARGET_OPTS) --out out/bench/$(or $(DEVICE),device) -- \
		$(foreach m,$(BENCH_MODEL),--model "$(m)") --runs $(RUNS) --board $(or $(DEVICE),auto)

SUITE ?= bookworm

device-sim:
	$(PY) -m deploy.sim start --suite "$(SUITE)" $(if $(DEVICE),--device "$(DEVICE)")

device-sim-stop:
	$(PY) -m deploy.sim stop --suite "$(SUITE)"
