# The two commands of the README. Both set everything up first (idempotent, cached).
VENV ?= $(or $(SWARM_VENV),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/swarm-node/venv)
NODES ?= 3
PORT ?= 8000

.PHONY: setup up test bench

setup:
	@SWARM_VENV=$(VENV) bash scripts/setup.sh

up: setup
	$(VENV)/bin/swarm up --nodes $(NODES) --port $(PORT)

test: setup
	$(VENV)/bin/python -m pytest

bench: setup
	$(VENV)/bin/python benchmarks/round_latency.py
