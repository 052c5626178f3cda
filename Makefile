# techan: `make run` sets up what is missing and starts the shop; `make test` runs every test tier.
SHELL := /bin/bash
.DEFAULT_GOAL := run

VENV      := .venv
RASA_VENV := .venv-rasa
PY        := $(VENV)/bin/python
TECHAN    := $(VENV)/bin/techan
export TECHAN_DATA_DIR ?= $(CURDIR)/var

# Python 3.10 for Rasa 3.6: python3.10 on PATH if it runs, else a pyenv install.
PY310 ?= $(shell for c in python3.10 $$HOME/.pyenv/versions/3.10*/bin/python3.10 /usr/bin/python3.10; do \
            $$c -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null && { echo $$c; break; }; done)
PY311 ?= $(shell for c in python3.11 $$HOME/.pyenv/versions/3.11*/bin/python3.11 /usr/bin/python3.11; do \
            $$c -c 'import sys; assert sys.version_info[:2] == (3, 11)' 2>/dev/null && { echo $$c; break; }; done)

AUDIT_VENV := .venv-audit

.PHONY: audit run setup test test-unit test-service test-e2e test-postgres test-rasa test-quality bench crossval clean

run: setup
	$(TECHAN) run

setup: $(VENV)/.installed $(RASA_VENV)/.installed
	@echo "==> embedding model"
	@$(TECHAN) model provision
	@echo "==> database and demo shop"
	@$(TECHAN) db upgrade
	@echo "==> rasa model"
	@$(TECHAN) train

$(VENV)/.installed: pyproject.toml constraints/app.txt
	@test -n "$(PY311)" || { echo "Python 3.11 not found (python3.11 or pyenv)"; exit 1; }
	@echo "==> app environment ($(VENV), $$($(PY311) --version)); first time takes a few minutes"
	@test -x $(PY) || $(PY311) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check --upgrade "pip==24.3.1"
	@$(PY) -m pip install --quiet --disable-pip-version-check -c constraints/app.txt -e ".[test]"
	@touch $@

$(RASA_VENV)/.installed: constraints/rasa.txt
	@test -n "$(PY310)" || { echo "Python 3.10 not found (python3.10 or pyenv); Rasa 3.6 needs it"; exit 1; }
	@echo "==> rasa environment ($(RASA_VENV), $$($(PY310) --version)); first time takes a few minutes"
	@test -x $(RASA_VENV)/bin/python || $(PY310) -m venv $(RASA_VENV)
	@$(RASA_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade "pip==24.3.1"
	@$(RASA_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -c constraints/rasa.txt \
		rasa==3.6.21 jieba==0.42.1
	@touch $@

test:
	@start=$$(date +%s); status=0; \
	{ $(MAKE) --no-print-directory setup && \
	  $(MAKE) --no-print-directory test-rasa test-unit test-service test-e2e test-postgres test-quality; } \
	  || status=$$?; \
	echo "make test: total $$(( $$(date +%s) - start ))s, set-up included"; exit $$status

test-rasa:
	@echo "==> rasa data validate"
	@mkdir -p $(TECHAN_DATA_DIR)
	@cd $(CURDIR) && RASA_TELEMETRY_ENABLED=false $(RASA_VENV)/bin/rasa data validate \
		--domain bot/domain.yml --data bot/data --config config.yml --fail-on-warnings >$(TECHAN_DATA_DIR)/rasa-validate.log 2>&1 \
		|| { tail -30 $(TECHAN_DATA_DIR)/rasa-validate.log; exit 1; }
	@# Accepted: Rasa 3.6 calls a form's utter_ask_<slot> questions "unused"; gift_form asks them.
	@! grep "UserWarning" $(TECHAN_DATA_DIR)/rasa-validate.log | grep -v "The utterance 'utter_ask_" \
		|| { echo "rasa data validate: warnings above"; exit 1; }
	@echo "rasa data validate: no warnings (but Rasa's known false alarm for form questions)"
	@echo "==> rasa test core (conversation tests in tests/stories)"
	@cd $(CURDIR) && RASA_TELEMETRY_ENABLED=false $(RASA_VENV)/bin/rasa test core \
		--model $(TECHAN_DATA_DIR)/rasa/models/techan.tar.gz --stories tests/stories \
		--fail-on-prediction-errors --out $(TECHAN_DATA_DIR)/rasa-test-core >$(TECHAN_DATA_DIR)/rasa-test-core.log 2>&1 \
		|| { tail -40 $(TECHAN_DATA_DIR)/rasa-test-core.log; cat $(TECHAN_DATA_DIR)/rasa-test-core/failed_test_stories.yml 2>/dev/null; exit 1; }
	@echo "rasa test core: every conversation test passed"

test-unit:
	@echo "==> unit tests"
	@$(PY) -m pytest tests/unit -q

test-service:
	@echo "==> service tests"
	@$(PY) -m pytest tests/service -q

test-e2e:
	@echo "==> end-to-end tests"
	@$(PY) -m pytest tests/e2e -q

# The service and end-to-end tiers again, on a throwaway PostgreSQL cluster instead of SQLite: each test
# gets a database of its own (tests/postgres_server.py); those about SQLite itself are deselected. Left out
# of the second end-to-end pass, to keep CI within its time: the media of calls (no more than a row per
# call in the database), the held-out NLU set (Rasa's model alone), and the deployment test (on PostgreSQL
# in either pass); left out of the service pass: the answer-quality floors (~13 min; the answers come from
# the knowledge index, which the database only feeds, and the knowledge tests run on PostgreSQL too).
test-postgres:
	@echo "==> service and end-to-end tests on PostgreSQL"
	@TECHAN_TEST_DATABASE=postgresql $(PY) -m pytest tests/service -q \
		--deselect tests/service/test_cli.py::test_kb_quality_scores_both_halves_and_checks_the_test_half
	@TECHAN_TEST_DATABASE=postgresql $(PY) -m pytest tests/e2e -q --ignore=tests/e2e/test_call_network.py \
		--ignore=tests/e2e/test_browser_calls.py --ignore=tests/e2e/test_nlu_heldout.py \
		--ignore=tests/e2e/test_deployment.py

# The answer-quality set (knowledge/eval/answers-*.yml) on a scratch demo shop, without NLU: the figures
# are printed, and `--check` fails make test when the test half falls below its targets (correct >= 0.85,
# confidently wrong <= 0.05; README, "Answer quality").
test-quality:
	@echo "==> answer quality (scratch demo shop, no NLU)"
	@rm -rf $(TECHAN_DATA_DIR)/quality
	@TECHAN_DATA_DIR=$(TECHAN_DATA_DIR)/quality TECHAN_MODELS_DIR=$(TECHAN_DATA_DIR)/models TECHAN_DEMO=1 \
		TECHAN_LOG_LEVEL=warning $(TECHAN) kb quality --check 2>$(TECHAN_DATA_DIR)/quality.log \
		|| { tail -20 $(TECHAN_DATA_DIR)/quality.log; exit 1; }

bench: setup
	$(PY) benchmarks/chat_latency.py

# 5-fold NLU cross-validation (~20 min on 2 cores); the reports kept in the repo are its output.
crossval: $(RASA_VENV)/.installed
	@cd $(CURDIR) && RASA_TELEMETRY_ENABLED=false $(RASA_VENV)/bin/rasa test nlu --nlu bot/data/nlu --config config.yml \
		--cross-validation --folds 5 --out $(TECHAN_DATA_DIR)/crossval >$(TECHAN_DATA_DIR)/crossval.log 2>&1
	@mkdir -p reports/nlu && cp $(TECHAN_DATA_DIR)/crossval/intent_report.json $(TECHAN_DATA_DIR)/crossval/DIETClassifier_report.json reports/nlu/
	@$(PY) -c "import json; i = json.load(open('reports/nlu/intent_report.json')); e = json.load(open('reports/nlu/DIETClassifier_report.json')); \
		print(f\"intent macro-F1 {i['macro avg']['f1-score']:.3f}, entity micro-F1 {e['micro avg']['f1-score']:.3f}\")"

clean:
	rm -rf $(VENV) $(RASA_VENV) var

# Known vulnerabilities in both environments' pins (PyPI's advisory data, through pip-audit). --strict: a pin
# that could not be checked fails the audit, so an unreachable advisory service never reads as "none found".
audit:
	@test -x $(AUDIT_VENV)/bin/pip-audit || { $(PY311) -m venv $(AUDIT_VENV) && \
		$(AUDIT_VENV)/bin/python -m pip install --quiet --disable-pip-version-check "pip-audit==2.10.1"; }
	@for pins in constraints/app.txt constraints/rasa.txt; do echo "==> pip-audit $$pins"; \
		$(AUDIT_VENV)/bin/pip-audit --strict --no-deps --disable-pip --progress-spinner off -r $$pins || exit 1; done
