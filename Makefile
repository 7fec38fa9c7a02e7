# Two commands on a fresh machine: `make demo` and `make test`.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test setup exiftool bench bench-quick clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

exiftool:
	@bash scripts/ensure-system-deps.sh exiftool

setup: $(STAMP) exiftool

demo: setup
	$(PY) -m demokit.run

test: setup
	@bash scripts/ensure-system-deps.sh chromium darktable
	$(PY) -m pytest -q

bench: setup
	$(PY) bench/run.py --n 10000

bench-quick: setup
	$(PY) bench/run.py --n 500

clean:
	rm -rf $(VENV) build *.egg-info
