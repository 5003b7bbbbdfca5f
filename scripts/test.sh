#!/usr/bin/env bash
# Installs everything the tests need (a virtual environment with the package and its test extra,
# Debian's chromium, openssl and postgresql) and runs the whole suite. `.ci/run` calls this.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"

# Debian packages the tests use: chromium (browser tests), openssl (a certificate for the SMTP TLS tests) and
# postgresql (tests/pg.py runs a throw-away server from its binaries, which Debian keeps off PATH).
MISSING=""
command -v chromium >/dev/null 2>&1 || MISSING="$MISSING chromium"
command -v openssl >/dev/null 2>&1 || MISSING="$MISSING openssl"
command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || MISSING="$MISSING postgresql"
if [ -n "$MISSING" ]; then
    echo "== installing Debian's$MISSING for the tests"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $MISSING >/dev/null
fi

echo "== virtual environment in $VENV"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -e ".[test]"

echo "== ruff"
"$VENV/bin/ruff" check .

echo "== pytest (one worker per core; a test file stays on one worker, so its module fixtures are built once)"
"$VENV/bin/python" -m pytest -n auto --dist loadfile "$@"
