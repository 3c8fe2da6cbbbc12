#!/usr/bin/env bash
# Stop the BottleCRM server that scripts/start-real-crm.sh started (its PID is in .real-crm/server.pid).
# Only that process, and only if it still is our waitress server; the data in .real-crm/ stays.
set -euo pipefail

STATE="$(cd "$(dirname "$0")/.." && pwd)/.real-crm"
PID_FILE="$STATE/server.pid"
[[ -f "$PID_FILE" ]] || { echo "BottleCRM: not running (no $PID_FILE)"; exit 0; }
pid=$(<"$PID_FILE")
if ! kill -0 "$pid" 2>/dev/null || [[ "$(ps -o args= -p "$pid" 2>/dev/null)" != *"$STATE/venv/bin/waitress-serve"* ]]; then
  rm -f "$PID_FILE"
  echo "BottleCRM: not running (stale pid $pid)"
  exit 0
fi
kill -TERM "$pid"
for _ in $(seq 50); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.2
done
kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
rm -f "$PID_FILE"
echo "BottleCRM: stopped (pid $pid)"
