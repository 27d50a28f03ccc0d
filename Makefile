# EMRS — the two commands a newcomer runs: `make run` and `make test`.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
HOST    ?= 127.0.0.1
PORT    ?= 5000
# waitress threads per process: 4 was the fastest measured on 2 cores (bench/README.md, "Cost per
# request"); production runs one process per core (docker/compose.yaml: 2 replicas × 4 threads).
THREADS ?= 4
export FLASK_APP := emrs

.PHONY: run test venv migrate seed serve browser-deps clean audit-deps

$(BIN)/activate: requirements.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $(BIN)/activate

venv: $(BIN)/activate

migrate: venv
	$(BIN)/flask --app emrs db upgrade

seed: migrate
	$(BIN)/flask --app emrs seed-demo

serve: venv
	@echo "EMRS on http://$(HOST):$(PORT)  (login codes: $${MAIL_OUTBOX_DIR:-instance/outbox}/*.eml unless EMAIL_HOST is set)"
	$(BIN)/waitress-serve --host $(HOST) --port $(PORT) --threads $(THREADS) --call emrs:create_app

run: seed serve

test: venv
	$(BIN)/pytest

audit-deps:
	bash .ci/audit-deps

clean:
	rm -rf $(VENV) .venv-audit .pytest_cache
