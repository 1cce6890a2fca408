#!/bin/sh
# Set up a stock machine (python3 with pip, Java 17) for dsflow, then run a recipe of this
# repository: `sh tools/bootstrap.sh demo` or `sh tools/bootstrap.sh test`.
#
# Installs, for your user only, into ~/.local/bin: uv (with pip; on a Python that refuses
# user installs, PEP 668 as on Debian 12, with --break-system-packages, which only touches
# your ~/.local and uv depends on nothing), then `uv tool install` of just and copier.
set -eu
cd "$(dirname "$0")/.."
CALLER_PATH="$PATH"
BIN="$HOME/.local/bin"
export PATH="$BIN:$PATH"

if ! command -v uv >/dev/null 2>&1; then
    echo "bootstrap: installing uv into $BIN (pip --user)"
    if ! python3 -m pip install --user --quiet uv 2>/tmp/dsflow-bootstrap.$$; then
        if grep -q externally-managed /tmp/dsflow-bootstrap.$$; then
            python3 -m pip install --user --quiet --break-system-packages uv
        else
            cat /tmp/dsflow-bootstrap.$$ >&2
            rm -f /tmp/dsflow-bootstrap.$$
            echo "bootstrap: error: could not install uv; see https://docs.astral.sh/uv/" >&2
            exit 1
        fi
    fi
    rm -f /tmp/dsflow-bootstrap.$$
fi
for tool in rust-just copier; do
    command="${tool#rust-}"
    if ! command -v "$command" >/dev/null 2>&1; then
        echo "bootstrap: uv tool install $tool"
        uv tool install --quiet "$tool"
    fi
done
case ":$CALLER_PATH:" in
    *":$BIN:"*) ;;
    *) echo "bootstrap: add $BIN to your PATH for just, copier and uv: export PATH=\"\$HOME/.local/bin:\$PATH\"" ;;
esac
[ "$#" -eq 0 ] && exit 0
export DSFLOW_CALLER_PATH="$CALLER_PATH"
exec uv run --frozen just "$@"
