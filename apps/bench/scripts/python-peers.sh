#!/usr/bin/env bash
# Build the Python venv that the bench's Python peers run in (cvxpy with Clarabel, scipy's SLSQP, numpy).
#
#   bash apps/bench/scripts/python-peers.sh          # make it (idempotent: an existing, working venv is kept)
#   SONDE_PYTHON_PEERS=/some/dir bash apps/bench/scripts/python-peers.sh
#
# The venv lives outside the repository, at $SONDE_PYTHON_PEERS (default ~/.cache/sonde/python-peers); the
# suites read the same variable. pip installs from whatever index this machine's pip is configured with (here a
# local wheelhouse, offline). A suite whose venv is missing prints a line and skips its Python peers.
set -euo pipefail
venv="${SONDE_PYTHON_PEERS:-${XDG_CACHE_HOME:-$HOME/.cache}/sonde/python-peers}"
python="${PYTHON:-python3}"
check='import numpy, scipy, cvxpy, clarabel; print("numpy", numpy.__version__, "scipy", scipy.__version__, "cvxpy", cvxpy.__version__, "clarabel", clarabel.__version__)'
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "$check" >/dev/null 2>&1; then
  "$venv/bin/python" -c "$check"
  echo "python peers: $venv is ready"
  exit 0
fi
command -v "$python" >/dev/null || { echo "python peers: $python not found; install Python 3 (python3-venv) first" >&2; exit 1; }
mkdir -p "$(dirname "$venv")"
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet numpy scipy cvxpy clarabel
"$venv/bin/python" -c "$check"
echo "python peers: $venv is ready"
