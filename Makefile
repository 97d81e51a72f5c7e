# Two entry points: `make run` (a sync from the sandbox store into JSONL files) and
# `make test` (the whole suite). Both set up everything they need on a fresh machine.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# uv (used by Meltano to build plugin venvs) and pip need the system CA bundle here.
export SSL_CERT_FILE ?= /etc/ssl/certs/ca-certificates.crt

.PHONY: run test lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	@# A venv from before the rename holds the old distribution `tap-bigcommerce`, whose files
	@# (the command, the schemas) the new one shares: remove it first.
	$(BIN)/pip uninstall --quiet --yes tap-bigcommerce 2>/dev/null || true
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

run: $(BIN)/.installed
	$(BIN)/python -m tap_bigcommerce.sandbox.demo

# Two workers, a test file each at a time: a file's timing-sensitive tests never share it.
test: $(BIN)/.installed
	$(BIN)/pytest -n 2 --dist loadfile

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy tap_bigcommerce

bench: $(BIN)/.installed
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) .meltano output .pytest_cache .mypy_cache .ruff_cache
