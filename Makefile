# maestro-microtools: developer and CI entry points.  `make help` lists the targets.
# Every target except `install` uses the project venv .venv (created by `make install`).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# interpreter used to create .venv (>= 3.10)
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
# extra pytest arguments, e.g. make test PYTEST_ARGS='-k mexpand -x'
PYTEST_ARGS ?=

.PHONY: help install test stress parity bench wheel-smoke slurm-up slurm-down slurm-check clean _venv-ok

help: ## Show this list of targets
	@echo "Usage: make TARGET [VAR=value ...]"
	@echo
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z][a-zA-Z0-9_-]*:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo
	@echo "Variables: PYTHON (interpreter for .venv, default python3), PYTEST_ARGS (extra pytest args),"
	@echo "           HYPOTHESIS_PROFILE (ci = small default, dev, stress), QUICK=1 (bench), BENCH_ARGS (bench/run.py's),"
	@echo "           MAESTRO_REQUIRE_SLURM=1 (SLURM tests fail instead of skipping when SLURM is down)"

install: ## Create .venv if missing and install the project with its test extras (editable)
	@if [ -x $(VPY) ] && ! $(VPY) -c 'import sys' >/dev/null 2>&1; then \
		echo "make: $(VENV) is broken (its interpreter does not run): recreating it"; rm -rf $(VENV); fi
	@if [ ! -x $(VPY) ]; then \
		$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "make: Python >= 3.10 is required, $(PYTHON) is %d.%d" % sys.version_info[:2])'; \
		echo "make: creating $(VENV) with $$($(PYTHON) -c 'import sys; print(sys.executable, sys.version.split()[0])')"; \
		$(PYTHON) -m venv $(VENV); fi
	$(VPY) -m pip install --disable-pip-version-check --progress-bar off -e '.[test]'
	@# an editable install leaves our modules uncompiled: compile them now, so that every command
	@# starts from bytecode even where PYTHONDONTWRITEBYTECODE keeps Python from caching it
	$(VPY) -m compileall -q shared runtime tools

_venv-ok:
	@[ -x $(VPY) ] || { echo "make: $(VENV) not found: run 'make install' first" >&2; exit 2; }

# pytest exits 5 when it collected no tests; nothing here swallows that, so make fails too.
test: _venv-ok ## Run the test suite (small hypothesis profile; SLURM tests skip unless SLURM is up)
	$(VPY) -m pytest -q $(PYTEST_ARGS)

stress: _venv-ok ## Heavy reliability loops (tests/reliability, hypothesis profile "stress"); not in CI
	HYPOTHESIS_PROFILE=stress MAESTRO_STRESS=1 $(VPY) -m pytest -q tests/reliability $(PYTEST_ARGS)

wheel-smoke: _venv-ok ## Build the wheel, install it in a fresh venv with its deps, run every --help
	$(VPY) -m pytest -q tests/test_packaging.py -k wheel $(PYTEST_ARGS)

parity: _venv-ok ## Compare against real Maestro (builds its own venv via tests/parity/make_venv.sh)
	bash tests/parity/make_venv.sh
	$(VPY) tests/parity/compare_live.py

bench: _venv-ok ## Run the benchmarks in bench/ (QUICK=1 for a short run; BENCH_ARGS='--only reuse-run')
	$(VPY) bench/run.py $(if $(QUICK),--quick,) $(BENCH_ARGS)

slurm-up: ## Install (if needed, via apt) and start the local single-node SLURM (root)
	bash .ci/slurm/start-slurm.sh

slurm-down: ## Stop the local SLURM started by slurm-up (cancels its jobs)
	bash .ci/slurm/stop-slurm.sh

slurm-check: ## Quick end-to-end check of the running local SLURM (one job)
	bash .ci/slurm/test-slurm.sh quick

# hidden top-level directories (.venv, .git, .parity-venv, .hypothesis, ...) are left alone
clean: ## Remove build artefacts and caches (never .venv, study outputs or bench results)
	rm -rf build dist .pytest_cache
	find . -path './.*' -prune -o -name '*.egg-info' -type d -prune -exec rm -rf {} +
	find . -path './.*' -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
