#!/bin/sh
# Set up a stock machine (python3 with pip, Java 17) for dsflow, then run a command in this
# repository's dev environment: `sh tools/bootstrap.sh just demo`, `sh tools/bootstrap.sh just
# test` (pytest over tests/). With no command it only installs the tools.
#
# Installs, for your user only, into ~/.local/bin: uv (with pip; on a Python that refuses
# user installs, PEP 668 as on Debian 12, with --break-system-packages, which only touches
# your ~/.local and uv depends on nothing), then `uv tool install` of just and copier.
set -eu
cd "$(dirname "$0")/.."
CALLER_PATH="$PATH"
BIN="$HOME/.local/bin"
export PATH="$BIN:$PATH"

export UV_TOOL_BIN_DIR="$BIN"   # where `uv tool install` puts just and copier

# true when command $1 exists and `$1 --version` reports at least version $2
at_least() {
    have=$("$1" --version 2>/dev/null | head -n 1 | awk '{print $2}')  # "uv 0.13.9 (...)"
    [ -n "$have" ] && [ "$(printf '%s\n%s\n' "$2" "$have" | sort -V | head -n 1)" = "$2" ]
}

if ! at_least uv 0.8; then
    echo "bootstrap: installing uv into $BIN (pip --user)"
    log=$(mktemp)
    if ! python3 -m pip install --user --quiet --upgrade uv 2>"$log"; then
        if grep -q externally-managed "$log"; then
            python3 -m pip install --user --quiet --upgrade --break-system-packages uv || {
                rm -f "$log"; echo "bootstrap: error: could not install uv; see https://docs.astral.sh/uv/" >&2; exit 1; }
        else
            cat "$log" >&2
            rm -f "$log"
            echo "bootstrap: error: could not install uv; see https://docs.astral.sh/uv/" >&2
            exit 1
        fi
    fi
    rm -f "$log"
fi
at_least just 1.55 || { echo "bootstrap: uv tool install rust-just"; uv tool install --quiet --force rust-just; }
at_least copier 9.10 || { echo "bootstrap: uv tool install copier"; uv tool install --quiet --force copier; }
case ":$CALLER_PATH:" in
    *":$BIN:"*) ;;
    *) echo "bootstrap: add $BIN to your PATH for just, copier and uv: export PATH=\"\$HOME/.local/bin:\$PATH\"" ;;
esac
[ "$#" -eq 0 ] && exit 0
export DSFLOW_CALLER_PATH="$CALLER_PATH"
exec uv run --frozen "$@"
