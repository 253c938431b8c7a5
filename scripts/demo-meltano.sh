#!/usr/bin/env bash
# Demo: a Meltano project reconciled by reconciler, then run by the real Meltano with no
# install step. Run via `make demo-meltano` (which builds .venv and build/meltano first).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

RECONCILER=.venv/bin/reconciler
MELTANO=build/meltano/bin/meltano
SRC=fixtures/meltano
DEMO=build/demo-meltano

for tool in "$RECONCILER" "$MELTANO"; do
    if [[ ! -x "$tool" ]]; then
        echo "demo-meltano: $tool not found; run 'make dev meltano' first" >&2
        exit 1
    fi
done

rm -rf "$DEMO"
mkdir -p "$DEMO"
cp "$SRC/meltano.yml" "$SRC/reconciler.toml" "$DEMO/"
ln -s "$PWD/fixtures/example/wheels" "$DEMO/wheels"

# Offline and quiet: no tracking, no Hub, and a Meltano that tried to install would fail.
export MELTANO_SEND_ANONYMOUS_USAGE_STATS=false MELTANO_DISABLE_TRACKING=true
export MELTANO_HUB_URL=http://127.0.0.1:9/ UV_OFFLINE=1
# Meltano's own interpreter is found from the `meltano` on PATH (MELTANO__PYTHON_VERSION).
export PATH="$PWD/build/meltano/bin:$PATH"

run() {
    echo "==> reconciler $*"
    "$RECONCILER" --project "$DEMO" "$@"
}

run lock
run lock --check
run plan
run apply
run plan --detailed-exitcode
run status

snapshot() { (cd "$DEMO/.meltano" && find extractors loaders -printf '%p %i %T@\n' | sort); }
before=$(snapshot)

echo "==> ls -l $DEMO/.meltano/extractors/tap-singer"
ls -l "$DEMO/.meltano/extractors/tap-singer"
echo "==> meltano invoke tap-singer   (no meltano install)"
(cd "$DEMO" && "$PWD/../../$MELTANO" --log-level=warning invoke tap-singer)
echo "==> meltano run tap-singer target-singer"
(cd "$DEMO" && TARGET_SINGER_OUT="$PWD/records.jsonl" \
    "$PWD/../../$MELTANO" --log-level=warning run tap-singer target-singer)
echo "records loaded: $(wc -l < "$DEMO/records.jsonl")"

if [[ "$(snapshot)" != "$before" ]]; then
    echo "demo-meltano: Meltano changed a venv (it should have installed nothing)" >&2
    exit 1
fi
echo "==> Meltano ran both plugins from reconciler's venvs and changed no venv file."
