#!/usr/bin/env bash
# Create .venv with a Python >= 3.12 found on this machine (PATH or pyenv) and
# install fem_spin with the dolfinx-solver-real wheel, gmsh, pyvista and the test tools.
# Idempotent: a second run only re-installs when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}

ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; }

find_python() {
    if [ -n "${PYTHON:-}" ] && ok "$PYTHON"; then echo "$PYTHON"; return; fi
    local c
    for c in python3.13 python3.12 python3; do
        if command -v "$c" >/dev/null && ok "$(command -v "$c")"; then command -v "$c"; return; fi
    done
    local root=${PYENV_ROOT:-$HOME/.pyenv}
    if command -v pyenv >/dev/null; then root=$(pyenv root); fi
    for c in $(ls -d "$root"/versions/3.1[2-9]* 2>/dev/null | sort -rV); do
        if ok "$c/bin/python"; then echo "$c/bin/python"; return; fi
    done
    echo "error: no Python >= 3.12 found (looked on PATH and in pyenv); set PYTHON=/path/to/python3.12" >&2
    exit 1
}

if [ ! -x "$VENV/bin/python" ] || ! ok "$VENV/bin/python"; then
    py=$(find_python)
    echo "setup: creating $VENV with $py ($("$py" --version))"
    rm -rf "$VENV"
    "$py" -m venv "$VENV"
fi
stamp="$VENV/.fem_spin-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "setup: installing fem_spin[pypi,test] (DOLFINx wheel, gmsh, pyvista) into $VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e ".[pypi,test]"
    touch "$stamp"
fi
