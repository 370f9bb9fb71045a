#!/usr/bin/env bash
# Screenshots of the newest sweep in the MLflow UI, taken by headless Chromium:
#
#   scripts/ui_screenshots.sh STORE OUT
#
# STORE: an mlruns folder (its mlflow.db and artifacts/, as a sweep leaves them) or a tracking
# URI (sqlite:///..., postgresql://...; an http(s):// one is a running server, used as it is).
# OUT: a folder for the PNGs: runs-table.png (the newest experiment's runs, the sweep's nets
# expanded), net-metrics.png (a net's metric charts), sweep-run.png (the sweep run's overview).
# A server over STORE is started on a free port of 127.0.0.1 for the pictures and stopped after.
# Needs Chromium (scripts/setup.sh installs Debian's) and the .venv that setup.sh makes.
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 STORE OUT   (STORE: an mlruns folder or a tracking URI; OUT: a folder)" >&2
  exit 2
fi
STORE=$1
OUT=$2
HERE=$(cd "$(dirname "$0")" && pwd)
PYTHON=${PYTHON:-$HERE/../.venv/bin/python}
[ -x "$PYTHON" ] || { echo "ui_screenshots: no $PYTHON: run scripts/setup.sh first" >&2; exit 2; }

case $STORE in
  http://* | https://*)
    exec "$PYTHON" "$HERE/ui_screenshots.py" --url "$STORE" --out "$OUT" ;;
  *://*)
    BACKEND=$STORE
    ARTIFACTS=() ;;  # where the store's experiments keep them
  *)
    [ -f "$STORE/mlflow.db" ] || { echo "ui_screenshots: no $STORE/mlflow.db" >&2; exit 2; }
    STORE=$(cd "$STORE" && pwd)
    BACKEND=sqlite:///$STORE/mlflow.db
    ARTIFACTS=(--artifacts-destination "$STORE/artifacts") ;;
esac

PORT=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
LOG=$(mktemp "${TMPDIR:-/tmp}/ui-screenshots-server.XXXXXX")
# Its own process group (setsid), so that stopping it stops its uvicorn worker too; without
# MLflow's job runner, processes for GenAI jobs that pictures do not need.
MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false setsid "$(dirname "$PYTHON")/mlflow" server \
  --backend-store-uri "$BACKEND" "${ARTIFACTS[@]}" \
  --host 127.0.0.1 --port "$PORT" --workers 1 >"$LOG" 2>&1 </dev/null &
SERVER=$!
stop() {
  kill -TERM -- "-$SERVER" 2>/dev/null || true
  for _ in $(seq 60); do kill -0 "$SERVER" 2>/dev/null || break; sleep 0.5; done
  kill -KILL -- "-$SERVER" 2>/dev/null || true
  rm -f "$LOG"
}
trap stop EXIT
trap 'exit 130' INT TERM

URL=http://127.0.0.1:$PORT
up() { "$PYTHON" -c "import urllib.request as u; u.urlopen('$URL/health', timeout=2)" 2>/dev/null; }
for _ in $(seq 300); do  # a few minutes at most
  up && break
  kill -0 "$SERVER" 2>/dev/null || break
  sleep 0.5
done
if ! up; then
  echo "ui_screenshots: the MLflow server over $BACKEND did not start:" >&2
  tail -n 20 "$LOG" >&2
  exit 1
fi
"$PYTHON" "$HERE/ui_screenshots.py" --url "$URL" --out "$OUT"
