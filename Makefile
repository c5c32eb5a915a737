# Two commands do all the setup: `make run` and `make test` create .venv on first use.
#
# Python 3.11 runs both tracks. On a machine with only a newer Python (3.12 to 3.14) make builds
# the PyTorch track alone and says how to get the MXNet one. The exact versions come from
# constraints/ (make lock writes them): full.txt for both tracks, torch.txt for PyTorch alone.
#   make test PYTHON=python3.13   another interpreter (after make clean, or with VENV=...)
#   make test TRACKS=torch        the PyTorch track alone, with numpy 2, on any Python
PYTHON ?= $(firstword $(foreach p,python3.11 python3 python3.14 python3.13 python3.12,\
	$(if $(shell $(p) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && echo y),$(p))))
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON_VERSION := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
TRACKS ?= $(if $(filter 3.11,$(PYTHON_VERSION)),all,torch)
ifeq ($(TRACKS),all)
LOCK := constraints/full.txt
EXTRAS := dev
else
LOCK := constraints/torch.txt
EXTRAS := torch,notebooks,test
endif
INSTALLED := $(VENV)/.installed-$(TRACKS)
# OpenMP threads that wait for work spin briefly, then sleep (GOMP_SPINCOUNT=1000, about 10 us,
# not 3 ms), as d2lmini sets it when it is imported before the framework
# (d2lmini.utils.let_idle_threads_sleep); exported here for the notebooks' kernels as well. A
# wait setting of yours (OMP_WAIT_POLICY, GOMP_SPINCOUNT, KMP_BLOCKTIME) is kept.
ifeq ($(origin OMP_WAIT_POLICY)$(origin GOMP_SPINCOUNT)$(origin KMP_BLOCKTIME),undefinedundefinedundefined)
export GOMP_SPINCOUNT := 1000
endif
# Says why the MXNet track is left out of this environment and how to get it (empty if it is in).
MXNET_SKIPPED = $(PY) -c 'from d2lmini.utils import mxnet_problem as p; p() and print("MXNet track skipped: " + p())'

.PHONY: run test lab notebooks site bench bench-shared data checkpoints lint lock clean

$(INSTALLED): pyproject.toml $(LOCK)
	@test -n "$(PYTHON_VERSION)" || { echo "make needs Python 3.11 (both tracks) or 3.12 to 3.14 (PyTorch track): none found; give one with PYTHON=..."; exit 1; }
	@echo "Creating $(VENV) with Python $(PYTHON_VERSION) ($(PYTHON)): $(if $(filter all,$(TRACKS)),both tracks,the PyTorch track)"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c $(LOCK) -e '.[$(EXTRAS)]'
	rm -f $(VENV)/.installed-*
	touch $@
	@$(MXNET_SKIPPED)

run: $(INSTALLED)      ## execute every notebook on the bundled data into build/
	$(PY) -m tools.runbook notebooks build
	@$(MXNET_SKIPPED)

test: $(INSTALLED)     ## the whole test suite, notebooks included (nbval)
	$(PY) -m pytest
	@$(MXNET_SKIPPED)

lab: $(INSTALLED)      ## open the notebooks in JupyterLab
	$(VENV)/bin/jupyter lab notebooks

notebooks: $(INSTALLED)  ## re-execute the notebooks in place (stored outputs)
	$(PY) -m tools.runbook notebooks build --in-place

site: $(INSTALLED)     ## the static site from the stored outputs: build/site/index.html
	$(PY) -m tools.site build/site

bench: $(INSTALLED)    ## speed and memory benchmark (JSON lines)
	$(PY) -m tools.bench

bench-shared: $(INSTALLED)  ## each notebook alone, then two of a track at once: time ratios
	$(PY) -m tools.bench_shared notebooks

data: $(INSTALLED)     ## rebuild the bundled reduced SNLI and WikiText zips
	$(PY) -m tools.snligen d2lmini/data
	$(PY) -m tools.wikigen d2lmini/data

checkpoints: $(INSTALLED)  ## rebuild the bundled bert.mini checkpoints (both frameworks)
	$(PY) -m tools.pretrain d2lmini/data

lint: $(INSTALLED)
	$(VENV)/bin/ruff check d2lmini tests notebooks tools

lock: $(INSTALLED)     ## re-resolve constraints/*.txt and environment.yml (UPGRADE=1: newest releases)
	$(PY) -m tools.lock $(if $(UPGRADE),--upgrade)

clean:
	rm -rf build $(VENV)
