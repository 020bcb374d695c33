# One command surface. Every target creates .venv and installs the project on first use.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: setup test lint typecheck check demo bench soak sandbox clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "error: Python >= 3.11 required (found $$($(PY) --version))"; exit 2; }
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

test: setup
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check engine tests benchmarks
	$(VENV)/bin/ruff format --check engine tests benchmarks

typecheck: setup
	$(VENV)/bin/mypy

check: lint typecheck test

demo: setup
	$(VENV)/bin/campaign demo

bench: setup
	$(PY) -m benchmarks.run

soak: setup
	$(PY) -m benchmarks.soak

sandbox: setup
	$(VENV)/bin/campaign sandbox

clean:
	rm -rf $(VENV) .campaign *.egg-info
