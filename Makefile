# oddsline: `make demo` and `make test` are the two commands a new user needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEMO   := demo-output

.PHONY: demo test lint typecheck pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml src/oddsline/_jsonrows.c src/oddsline/core/_onehot.c src/oddsline/serve/_jsonkeys.c | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[report,serve]"
	touch $@

$(VENV)/.installed-test: pyproject.toml src/oddsline/_jsonrows.c src/oddsline/core/_onehot.c src/oddsline/serve/_jsonkeys.c | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	@mkdir -p $(DEMO)
	$(BIN)/oddsline train examples/data/telco_churn.csv --target churn --positive Yes --calibrate isotonic --threshold cost:fp=1,fn=5 --out $(DEMO)/churn.odl
	$(BIN)/oddsline evaluate $(DEMO)/churn.odl examples/data/telco_churn.csv --report $(DEMO)/model_card.html
	@head -n 6 examples/data/telco_churn.csv > $(DEMO)/five_customers.csv
	$(BIN)/oddsline predict $(DEMO)/churn.odl $(DEMO)/five_customers.csv --out $(DEMO)/scores.csv
	@cat $(DEMO)/scores.csv
	@echo "model file: $(DEMO)/churn.odl   (try: $(BIN)/oddsline inspect $(DEMO)/churn.odl)"
	@echo "model card: $(DEMO)/model_card.html   (open it in a browser; it works offline)"
	@echo "serving it now (Ctrl-C stops). Try, from another terminal:"
	@$(BIN)/python examples/curl_line.py $(DEMO)/five_customers.csv churn --drop churn
	$(BIN)/oddsline serve $(DEMO)/churn.odl --port 8000

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy

pytest: $(VENV)/.installed-test
	$(BIN)/pytest -q

test: lint typecheck pytest

bench: $(VENV)/.installed-test
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(DEMO) .pytest_cache .mypy_cache .ruff_cache
