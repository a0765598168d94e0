# Sourced by bin/run and bin/test: a virtualenv in .venv with the pinned requirements.
# Re-installs only when a requirements file changed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"

if [ ! -x .venv/bin/python ]; then
    if ! "$PYTHON" -m venv .venv 2>/dev/null; then
        echo "python3 -m venv failed; installing the venv module with the OS package manager" >&2
        rm -rf .venv
        apt-get update -qq && apt-get install -y -qq python3-venv python3-dev
        "$PYTHON" -m venv .venv
    fi
fi
stamp=".venv/.requirements.sha256"
wanted="$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$wanted" ]; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
    echo "$wanted" > "$stamp"
fi
export PATH="$ROOT/.venv/bin:$PATH"
mkdir -p var
