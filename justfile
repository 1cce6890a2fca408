# Developer recipes of the dsflow template repository. `just` lists them.

set minimum-version := '1.55.0'
set positional-arguments

# the repo's dev environment (uv.lock at the root); recipes run tools from it
run := "uv run --frozen"

# list the recipes
[private]
default:
    @just --list --unsorted --justfile {{ quote(justfile()) }}

# run the whole test suite on two workers, a module to each (about 9 minutes; -n 0: one process)
[group('test')]
test *pytest_args:
    {{ run }} pytest -n 2 --dist loadfile "$@"

# fast tests only: the runtime's unit tier, rendering, cookiecutter parity (no project environment)
[group('test')]
test-fast *pytest_args:
    {{ run }} pytest -m "not slow" "$@"

# the runtime's fast unit tier (tests/runtime: no project, no Spark; under a minute)
[group('test')]
test-unit *pytest_args:
    {{ run }} pytest tests/runtime "$@"

# lint and format checks: ruff, and `just --fmt --check` on every justfile
[group('test')]
lint:
    {{ run }} ruff check .
    {{ run }} ruff format --check .
    {{ run }} just --fmt --check --justfile justfile
    {{ run }} just --fmt --check --justfile project-template/justfile
    {{ run }} python tools/release_tags.py --check
    {{ run }} python tools/make_constraints.py --check

# format Python and justfiles in place
[group('dev')]
fmt:
    {{ run }} ruff format .
    {{ run }} ruff check --fix .
    {{ run }} just --fmt --justfile justfile
    {{ run }} just --fmt --justfile project-template/justfile

# after changing runtime/pyproject.toml: re-lock, and write runtime/constraints.txt (what projects resolve within)
[group('dev')]
lock:
    uv lock
    {{ run }} python tools/make_constraints.py

# after a pyspark upgrade: rewrite the list of classes `just setup` archives for fast Spark starts
[group('dev')]
spark-class-list:
    {{ run }} python tools/spark_class_list.py

# create the release tags this clone lacks, from the CHANGELOG's `## vX.Y.Z` headings
[group('dev')]
release-tags:
    python3 tools/release_tags.py

# benchmarks (bench/): whole-process timings reported as figures and ratios
[group('bench')]
bench:
    {{ run }} python bench/bench_scaffold.py

# the demo: scaffold a project into DEST from this checkout, set it up, create a job, show it
[group('demo')]
demo dest="demo-project":
    {{ run }} python tools/demo.py "$1"

# benchmark: a cold `just run` of a Spark notebook job vs the naive papermill + nbconvert CLI pair
[group('bench')]
bench-run:
    {{ run }} python bench/bench_run.py

# benchmark: a 30-day backfill of the demo pipeline vs one cold process per (job, day), and vs warm Spark
[group('bench')]
bench-backfill:
    {{ run }} python bench/bench_backfill.py

# benchmark: a 7-day demo backfill vs its peers on the same work (Dagster assets, Ploomber); installs the bench group
[group('bench')]
bench-peers:
    uv run --frozen --group bench python bench/bench_peers.py
