# The two commands of the README: `make demo` (main job) and `make test`.
.PHONY: setup demo test bench clean
setup:
	bash scripts/setup.sh
demo: setup
	MPLBACKEND=Agg .venv/bin/python demos/slab.py
test:
	bash scripts/test.sh
bench: setup
	.venv/bin/python benchmarks/solvers.py
clean:
	rm -rf .venv results
