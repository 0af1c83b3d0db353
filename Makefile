# Lantai — the two commands a newcomer needs:
#   make run    run the whole system on this machine (embedded defaults unless URLs are set)
#   make test   lint and run the whole test suite
# Everything else is a helper of these two.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
HOST   ?= 127.0.0.1
PORT   ?= 8000
RECORDS ?= 2000

# The lock files pin every package with its hashes (pip-compile from pyproject.toml: `make lock`);
# `make install` installs from one of them (LOCK=requirements.lock: runtime packages only).
LOCK ?= requirements-dev.lock

.PHONY: run test install lock wheelhouse dist messages lint format openapi migrate bench clean check-python

check-python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Lantai needs Python 3.11 or newer (set PYTHON=python3.11)")'

$(VENV)/.installed: pyproject.toml $(LOCK) | check-python
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

install: $(VENV)/.installed

# After a change of dependencies in pyproject.toml (pip-tools is in the dev lock).
PIP_COMPILE = $(VENV)/bin/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe \
	--no-emit-index-url --no-emit-find-links
lock: install
	$(PIP_COMPILE) -o requirements.lock pyproject.toml
	$(PIP_COMPILE) --extra dev -o requirements-dev.lock pyproject.toml

# Every wheel the runtime lock names, for an install without network (README "Release").
wheelhouse: install
	rm -rf wheelhouse
	$(PY) -m pip download --quiet --require-hashes --only-binary=:all: -r requirements.lock -d wheelhouse
	$(PY) -m pip wheel --quiet --no-deps --no-build-isolation -w wheelhouse .
	cp requirements.lock wheelhouse/

# The wheel (code, templates, static files, compiled translations), in dist/
dist: messages
	rm -rf dist build
	$(PY) -m pip wheel --quiet --no-deps --no-build-isolation -w dist .

# Translation catalogues are compiled in the build (Babel: pure Python, no gettext needed).
messages: install
	$(VENV)/bin/pybabel compile --domain django --directory locale --statistics

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	DEBUG=true $(VENV)/bin/mypy
	$(VENV)/bin/vulture

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: install messages lint
	bash scripts/ensure_test_packages.sh || true
	$(PY) -m pytest $(PYTEST_ARGS)

openapi: install messages
	DEBUG=true $(PY) manage.py spectacular --lang en --file openapi.yaml --validate

migrate: install messages
	DEBUG=$${DEBUG:-true} $(PY) manage.py migrate --noinput

# DEBUG off unless set: the embedded default is a small archive's production (scripts/run.py);
# `DEBUG=true make run` is the development mode.
run: install messages
	$(PY) scripts/run.py --host $(HOST) --port $(PORT) --records $(RECORDS)

bench: install messages
	@for script in bench/[!_]*.py; do echo "== $$script" >&2; DEBUG=$${DEBUG:-true} $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache build dist wheelhouse
