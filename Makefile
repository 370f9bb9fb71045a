# Two commands do all set-up on a fresh Debian machine:
#   make quick   install, then run the quick depth study (Fashion-MNIST, CPU, <= 15 min)
#   make test    install, then run the linter and the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FASHION_MNIST := /usr/share/datasets/fashion-mnist
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: quick smoke paper test lint ui setup data

setup: $(VENV)/.installed data

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# Fashion-MNIST offline from Debian's package; without it the loader downloads it instead.
data:
	@if [ ! -d $(FASHION_MNIST) ] && command -v apt-get >/dev/null; then \
	  ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq dataset-fashion-mnist) \
	  || echo "dataset-fashion-mnist not installed: Fashion-MNIST will be downloaded"; \
	fi

quick: setup
	$(BIN)/python experiments/depth_sweep.py --preset quick

smoke: setup
	$(BIN)/python experiments/depth_sweep.py --preset smoke

paper: setup
	$(BIN)/python experiments/depth_sweep.py --preset paper

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest

ui: setup
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db --host 127.0.0.1 --port 5000
