# Two commands do all the setup: `make run` and `make test` create .venv on first use.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: run test lab notebooks bench data checkpoints lint clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

run: $(VENV)/.installed      ## execute every notebook on the bundled data into build/
	$(PY) -m tools.runbook notebooks build

test: $(VENV)/.installed     ## the whole test suite, notebooks included (nbval)
	$(PY) -m pytest

lab: $(VENV)/.installed      ## open the notebooks in JupyterLab
	$(VENV)/bin/jupyter lab notebooks

notebooks: $(VENV)/.installed  ## re-execute the notebooks in place (stored outputs)
	$(PY) -m tools.runbook notebooks build --in-place

bench: $(VENV)/.installed    ## speed and memory benchmark (JSON lines)
	$(PY) -m tools.bench

data: $(VENV)/.installed     ## rebuild the bundled reduced SNLI zip
	$(PY) -m tools.snligen d2lmini/data

checkpoints: $(VENV)/.installed  ## rebuild the bundled bert.mini checkpoints (both frameworks)
	$(PY) -m tools.pretrain d2lmini/data

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check d2lmini tests notebooks tools

clean:
	rm -rf build $(VENV)
