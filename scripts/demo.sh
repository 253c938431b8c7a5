#!/usr/bin/env bash
# Demo: reconcile the example project in fixtures/example end to end.
# Run via `make demo` (which builds .venv first).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

RECONCILER=.venv/bin/reconciler
SRC=fixtures/example
DEMO=build/demo

if [[ ! -x "$RECONCILER" ]]; then
    echo "demo: $RECONCILER not found; run 'make dev' first" >&2
    exit 1
fi
if [[ ! -d "$SRC" ]]; then
    echo "demo: $SRC does not exist" >&2
    exit 1
fi

rm -rf "$DEMO"
mkdir -p "$(dirname "$DEMO")"
cp -R "$SRC" "$DEMO"

run() {
    echo "==> reconciler $*"
    "$RECONCILER" --project "$DEMO" "$@"
}

run lock
run plan
run apply
# After apply the environments match the lock: no changes, exit code 0.
run plan --detailed-exitcode

echo "==> $DEMO/.venvs/tap-alpha/bin/tap-alpha"
"$DEMO/.venvs/tap-alpha/bin/tap-alpha"
