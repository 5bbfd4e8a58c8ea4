# The README's commands. Every target works from a clean clone with only Python 3.11+ and make.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The code locations: the one list in deploy/locations.toml (make location adds one).
LOCATIONS := $(shell $(PYTHON) deploy/locations.py names)
LOCKS := $(foreach l,$(LOCATIONS),$(l)/requirements.lock) requirements-dev.lock
SRC := lakehouse/src $(foreach l,$(LOCATIONS),$(l)/src) deploy/locations.py deploy/dagster/lakehouse_platform deploy/local deploy/proxy bench tests/support

.PHONY: help install lock location location-remove lint fmt test test-unit test-component test-system test-images test-faults images images-offline dev up down bench compose-plugin env user users

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip 'uv>=0.13,<0.14'

$(VENV)/.installed: $(BIN)/python $(LOCKS) lakehouse/pyproject.toml $(foreach l,$(LOCATIONS),$(l)/pyproject.toml) deploy/dagster/pyproject.toml tests/support/pyproject.toml
	# Bytecode compiled once here, as pip does by default and uv does not: where
	# PYTHONDONTWRITEBYTECODE is set, every process (each run worker too) otherwise compiles
	# Dagster from source, about 2 s per start (BENCHMARKS.md, P1).
	$(BIN)/uv pip sync --compile-bytecode --python $(BIN)/python $(LOCKS)
	# tests/support (lakehouse-testing: the real Postgres, S3 and webhook servers tests and bench
	# start, and their pytest fixtures) goes into this venv only: no image installs it.
	$(BIN)/uv pip install --python $(BIN)/python --no-deps -e lakehouse $(foreach l,$(LOCATIONS),-e $(l)) -e deploy/dagster -e tests/support
	touch $@

install: $(VENV)/.installed ## create .venv with the locked dependencies of every location and the tools

lock: $(BIN)/python ## re-resolve the lockfiles after changing a pyproject.toml or requirements-dev.in
	for l in $(LOCATIONS); do $(MAKE) --no-print-directory location-lock NAME=$$l; done
	$(BIN)/uv pip compile requirements-dev.in -o requirements-dev.lock --python-version 3.11 --quiet
	$(BIN)/uv pip compile deploy/dagster/requirements.in -o deploy/dagster/requirements.lock --python-version 3.11 --quiet

location-lock: $(BIN)/python
	$(BIN)/uv pip compile $(NAME)/pyproject.toml -o $(NAME)/requirements.lock --python-version 3.11 --no-emit-package lakehouse --quiet

location: $(BIN)/python ## a team's code location from the template: make location NAME=marketing TEAM=marketing
	@test -n "$(NAME)" -a -n "$(TEAM)" || { echo "usage: make location NAME=<name> TEAM=<team>" >&2; exit 2; }
	$(PYTHON) deploy/locations.py add "$(NAME)" --team "$(TEAM)"
	$(MAKE) --no-print-directory location-lock NAME="$(NAME)"
	@echo "next: make install (or make dev), then README 'Adding a team'"

location-remove: ## take a code location out (its folder and its wiring; its lake data stays): make location-remove NAME=marketing
	@test -n "$(NAME)" || { echo "usage: make location-remove NAME=<name>" >&2; exit 2; }
	$(PYTHON) deploy/locations.py remove "$(NAME)"
	@if [ -x $(BIN)/uv ]; then $(BIN)/uv pip uninstall --python $(BIN)/python --quiet "$(NAME)" || true; fi

dev: install ## run every location's code server, the daemon and the webserver on http://127.0.0.1:3000 (Ctrl-C stops)
	$(BIN)/python deploy/local/stack.py up --seed-days $${SEED_DAYS:-7}

# The compose deployment's .env (make up ENV_FILE=other.env), and what `up` passes to compose.
ENV_FILE ?= .env
COMPOSE_UP_FLAGS ?= --build

compose-plugin: ## make `docker compose` work: installs the dev lock's Compose v2 as your Docker CLI plugin, if none
	@if docker compose version >/dev/null 2>&1; then \
	  echo "docker compose $$(docker compose version --short)"; \
	else \
	  $(MAKE) --no-print-directory install >/dev/null; \
	  dir="$${DOCKER_CONFIG:-$$HOME/.docker}/cli-plugins"; mkdir -p "$$dir"; \
	  install -m 0755 "$$($(BIN)/python -c 'import compose, pathlib; print(pathlib.Path(compose.__file__).parent / "docker-compose")')" "$$dir/docker-compose"; \
	  echo "installed $$dir/docker-compose: docker compose $$(docker compose version --short)"; \
	fi

env: ## write .env with random secrets (from .env.example); on an existing one, only add the secrets it lacks
	@if [ -f $(ENV_FILE) ]; then \
	  $(PYTHON) deploy/compose/env.py add-missing --env-file $(ENV_FILE); \
	else \
	  $(PYTHON) deploy/compose/env.py generate --output $(ENV_FILE); \
	fi

up: ## docker compose: check .env, build the images and start the deployment
	$(PYTHON) deploy/compose/env.py check --env-file $(ENV_FILE)
	@$(MAKE) --no-print-directory compose-plugin
	set -a; eval "$$(deploy/images/tags.sh)"; set +a; \
	  docker compose --env-file $(ENV_FILE) up -d $(COMPOSE_UP_FLAGS) --wait

user: install ## front-door login: make user NAME=alice ROLE=editor|viewer (asks the password); DELETE=1 removes
	@test -n "$(NAME)" || { echo "usage: make user NAME=<name> ROLE=editor|viewer   (or NAME=<name> DELETE=1)" >&2; exit 2; }
	@if [ "$(DELETE)" = 1 ]; then \
	  $(BIN)/python deploy/proxy/users.py --env-file $(ENV_FILE) remove "$(NAME)"; \
	else \
	  $(BIN)/python deploy/proxy/users.py --env-file $(ENV_FILE) add "$(NAME)" "$(ROLE)"; \
	fi

users: install ## front-door logins: names and roles
	@$(BIN)/python deploy/proxy/users.py --env-file $(ENV_FILE) list

down: ## stop what `make dev` left running, and the compose deployment (its volumes stay)
	@if [ -x $(BIN)/python ]; then $(BIN)/python deploy/local/stack.py down; fi
	@if [ -f $(ENV_FILE) ] && docker info >/dev/null 2>&1; then \
	  $(MAKE) --no-print-directory compose-plugin >/dev/null; \
	  docker compose --env-file $(ENV_FILE) --profile '*' down; \
	fi

lint: install ## ruff (lint and format check) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	MYPYPATH=$(subst $(eval) ,:,$(foreach l,$(LOCATIONS),$(l)/src)) $(BIN)/mypy $(SRC)

fmt: install ## format and autofix
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Every location's tests too (pytest.ini's testpaths lists only the platform's own).
TESTPATHS := lakehouse/tests $(foreach l,$(LOCATIONS),$(l)/tests) tests

test-unit: install ## unit tier: pure logic, direct asset/sensor/schedule calls
	$(BIN)/pytest -m "not component and not system and not docker and not faults" -q $(TESTPATHS)

test-component: install ## component tier: materializations against a real Postgres and S3 on loopback
	$(BIN)/pytest -m component -q $(TESTPATHS)

test-system: install ## system tier: the native stack (make dev's launcher) on Postgres + S3, via GraphQL
	$(BIN)/pytest -m system -q $(TESTPATHS)

test-images: install ## docker tier: the images and the compose deployment (skips without an engine unless REQUIRE_DOCKER=1)
	$(BIN)/pytest -m docker -q -rs $(TESTPATHS)

test-faults: install ## fault tier: faults injected into the compose deployment; writes RELIABILITY.md
	FAULTS_COMMAND="make test-faults" $(BIN)/pytest -m faults -q -rs $(TESTPATHS)

images: ## build the images (each location's and Dagster's) from the official bases (docker build)
	deploy/images/build.sh

images-offline: ## build stand-ins of the pinned bases (debootstrap, PyPI) and the images on them; needs root
	deploy/images/ci-build.sh

bench: install ## P1-P5 against their baselines: bench/results.json and BENCHMARKS.md (QUICK=1: tiny sizes, under artifacts/)
	$(BIN)/python bench/run.py $(if $(filter 1,$(QUICK)),--quick,)

test: install ## everything CI runs: lint, then each tier, timed
	@tier() { local name=$$1; shift; local start=$$SECONDS; "$$@"; \
	  echo "== $$name: $$((SECONDS - start)) s"; }; \
	tier lint $(MAKE) --no-print-directory lint; \
	tier unit $(MAKE) --no-print-directory test-unit; \
	tier component $(MAKE) --no-print-directory test-component; \
	tier system $(MAKE) --no-print-directory test-system; \
	tier docker $(MAKE) --no-print-directory test-images; \
	tier faults $(MAKE) --no-print-directory test-faults
