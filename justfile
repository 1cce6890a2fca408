# Developer recipes of the dsflow template repository. `just` lists them.

set minimum-version := '1.55.0'
set positional-arguments

# the repo's dev environment (uv.lock at the root); recipes run tools from it
run := "uv run --frozen"

# list the recipes
[private]
default:
    @just --list --unsorted --justfile {{ quote(justfile()) }}

# run the whole test suite (builds project environments: several minutes)
[group('test')]
test *pytest_args:
    {{ run }} pytest "$@"

# fast tests only: rendering, cookiecutter parity, names (no project environment)
[group('test')]
test-fast *pytest_args:
    {{ run }} pytest -m "not slow" "$@"

# lint and format checks: ruff, and `just --fmt --check` on every justfile
[group('test')]
lint:
    {{ run }} ruff check .
    {{ run }} ruff format --check .
    {{ run }} just --fmt --check --justfile justfile
    {{ run }} just --fmt --check --justfile project-template/justfile

# format Python and justfiles in place
[group('dev')]
fmt:
    {{ run }} ruff format .
    {{ run }} ruff check --fix .
    {{ run }} just --fmt --justfile justfile
    {{ run }} just --fmt --justfile project-template/justfile

# scaffold a project from this checkout into DEST and list its recipes
[group('demo')]
scaffold dest="/tmp/dsflow-demo":
    {{ run }} copier copy --trust --defaults --vcs-ref HEAD "{{ justfile_directory() }}" "$1"
    cd "$1" && just --list

# regenerate project-template/uv.lock.jinja after changing the project's dependencies
[group('dev')]
lock:
    {{ run }} python tools/make_project_lock.py

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
