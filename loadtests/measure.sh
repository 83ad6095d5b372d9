#!/usr/bin/env bash
# Re-measure the figures in docs/performance.md with one command. Starts the server it loads
# (and stops it after), on a database of its own, so a developer's instance/ is never touched.
#
#   loadtests/measure.sh examday  sqlite|postgres   exam day for N candidates (N=300)
#   loadtests/measure.sh capacity sqlite|postgres   common-scenario capacity, stepping N
#   loadtests/measure.sh ceiling                    the ceiling app's capacity, same scenario
#
# Settings (environment): N, START, STEP, MAX, ITEMS (common scenario, 30), LOGIN (seconds, 60),
# ALLOWED (exam-day seconds allowed, 180), STAFF (exam-day setup phase, 20; 0: staff arrive with the candidates), TIMER (exam-day timer poll, 30; the player's is 5), RECONNECT=1, PORT (8103), CEILING_PORT (8113),
# PG_URL (postgresql://postgres@127.0.0.1:5432/onscreen_load: made if missing, EMPTIED first),
# ONSCREEN_SERVER (granian or gunicorn, for onscreen and the ceiling app alike), ONSCREEN_WORKERS/THREADS.
# PYSPY=1: py-spy samples the server's processes and OUT/profile_by_route.txt shares its CPU out by
# route (loadtests/profile_by_route.py; needs `.venv/bin/pip install py-spy`, and ptrace rights).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
WHAT=${1:?examday, capacity or ceiling}
DB=${2:-sqlite}
PORT=${PORT:-8103}
CEILING_PORT=${CEILING_PORT:-8113}
OUT=${OUT:-loadtests/out/$(date +%Y%m%d-%H%M%S)-$WHAT-$DB}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)  # absolute, so OUT=/tmp/x works as well as a path under the checkout
export ONSCREEN_INSTANCE_PATH=$OUT
export ONSCREEN_SECRET_KEY=${ONSCREEN_SECRET_KEY:-$(python3 -c 'import secrets; print(secrets.token_hex(32))')}
if [ "$DB" = postgres ]; then
  # The load database is emptied first: forms made in earlier runs count towards the bank's
  # exposure window, and after a few thousand the bank cannot make more. Never point PG_URL at
  # a database that matters.
  export ONSCREEN_DATABASE_URL=${PG_URL:-postgresql://postgres@127.0.0.1:5432/onscreen_load}
  $BIN/python -c "
import sqlalchemy as sa, sys
url = sa.engine.make_url(sys.argv[1].replace('postgresql://', 'postgresql+psycopg://', 1))
# A new machine has no load database yet: make it (from the server's maintenance database).
server = sa.create_engine(url.set(database='postgres'), isolation_level='AUTOCOMMIT')
with server.connect() as c:
    if c.execute(sa.text('SELECT 1 FROM pg_database WHERE datname = :name'), {'name': url.database}).first() is None:
        c.execute(sa.text('CREATE DATABASE \"%s\"' % url.database.replace('\"', '')))
server.dispose()
with sa.create_engine(url).begin() as c:
    c.execute(sa.text('DROP SCHEMA public CASCADE')); c.execute(sa.text('CREATE SCHEMA public'))
" "$ONSCREEN_DATABASE_URL"
else
  export ONSCREEN_DATABASE_URL=sqlite:///$OUT/load.db
fi

SERVER=""
stop() { if [ -n "$SERVER" ]; then kill -TERM -- "-$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; SERVER=""; fi; }
trap stop EXIT
# CPU seconds used so far by the server's process group (gunicorn master, workers, sweeper): the
# server's cost per request is robust to a busy machine, where its response times are not.
group_cpu() {
  local ticks=0 pid
  for pid in $(ps -o pid= -g "$SERVER"); do
    [ -r "/proc/$pid/stat" ] && ticks=$((ticks + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
  done
  $BIN/python -c "print(round($ticks / $(getconf CLK_TCK), 2))"
}
# CPU seconds used so far by a PostgreSQL server on this host: its live processes and the
# backends its postmaster has reaped (empty when there is none here). A backend that lived
# before the run and ended during it counts whole: "about", not exact.
postgres_cpu() {
  local postmaster ticks=0 pid
  postmaster=$(pgrep -o -x postgres) || return 0
  for pid in $(pgrep -x postgres); do
    [ -r "/proc/$pid/stat" ] && ticks=$((ticks + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
  done
  ticks=$((ticks + $(awk '{print $16 + $17}' "/proc/$postmaster/stat")))
  $BIN/python -c "print(round($ticks / $(getconf CLK_TCK), 2))"
}
cpu_report() {
  local used requests database
  used=$($BIN/python -c "print(round($(group_cpu) - $CPU_BEFORE, 2))")
  requests=$(find "$OUT" -name summary.json -exec $BIN/python -c 'import json,sys; print(sum(json.load(open(f))["total_requests"] for f in sys.argv[1:]))' {} + )
  requests=${requests:-0}
  CPU_USED=$used
  echo "server CPU: ${used} s for ${requests} requests: $($BIN/python -c "print(round(1000 * $used / max(1, $requests), 2))") ms per request" | tee "$OUT/server_cpu.txt"
  if [ "$DB" = postgres ] && [ -n "${PG_CPU_BEFORE:-}" ] && database=$(postgres_cpu) && [ -n "$database" ]; then
    database=$($BIN/python -c "print(round($database - $PG_CPU_BEFORE, 2))")
    echo "PostgreSQL CPU (this host, about): ${database} s: $($BIN/python -c "print(round(1000 * $database / max(1, $requests), 2))") ms per request" | tee -a "$OUT/server_cpu.txt"
  fi
}
SPIES=()
start_spies() {
  [ -n "${PYSPY:-}" ] || return 0
  [ -x "$BIN/py-spy" ] || { echo "PYSPY=1 needs py-spy: $BIN/pip install py-spy" >&2; exit 2; }
  sleep 2  # every worker booted, not only the one that answered
  local pid
  for pid in $(ps -o pid= -g "$SERVER"); do
    # --gil: only samples holding the interpreter lock (work, not waiting); --nonblocking: the
    # server is not paused for each sample.
    $BIN/py-spy record --gil --nonblocking --rate 50 --format raw -o "$OUT/spy-$pid.txt" -p "$pid" \
      >"$OUT/spy-$pid.log" 2>&1 &
    SPIES+=($!)
  done
}
profile_report() {
  [ -n "${PYSPY:-}" ] || return 0
  stop  # py-spy writes its file when the process it samples exits
  wait "${SPIES[@]}" 2>/dev/null || true
  $BIN/python loadtests/profile_by_route.py --cpu-seconds "$CPU_USED" "$OUT"/spy-*.txt | tee "$OUT/profile_by_route.txt" \
    || echo "no profile by route: see $OUT/spy-*.log" >&2
}
wait_for() { for _ in $(seq 1 100); do curl -fs "$1" >/dev/null 2>&1 && return 0; sleep 0.3; done; echo "no answer from $1" >&2; exit 1; }

if [ "$WHAT" = ceiling ]; then
  # The same server, settings and command line as onscreen's own (engine/http_server.py).
  read -ra CEILING_SERVER < <(ONSCREEN_BIND=127.0.0.1:$CEILING_PORT $BIN/python -c "
import shlex; from engine import http_server
print(shlex.join(http_server.command(http_server.server_name(), app='loadtests.ceiling_app:app')))")
  setsid "${CEILING_SERVER[@]}" >"$OUT/server.log" 2>&1 &
  SERVER=$!
  wait_for "http://127.0.0.1:$CEILING_PORT/start"
  CPU_BEFORE=$(group_cpu)
  start_spies
  $BIN/onscreen loadtest capacity --ceiling --scenario common --host "http://127.0.0.1:$CEILING_PORT" \
    --start "${START:-500}" --step "${STEP:-500}" --max "${MAX:-10000}" --items "${ITEMS:-30}" \
    --login-seconds "${LOGIN:-60}" --out "$OUT" || true
  cpu_report
  profile_report
  exit 0
fi

$BIN/onscreen db upgrade >/dev/null
ONSCREEN_BIND=127.0.0.1:$PORT setsid $BIN/onscreen serve >"$OUT/server.log" 2>&1 &
SERVER=$!
wait_for "http://127.0.0.1:$PORT/healthz"
CPU_BEFORE=$(group_cpu)
[ "$DB" = postgres ] && PG_CPU_BEFORE=$(postgres_cpu)
start_spies
case "$WHAT" in
  examday)
    $BIN/onscreen loadtest prepare --candidates "${N:-300}" --allowed-seconds "${ALLOWED:-180}" --plan "$OUT/plan.json"
    $BIN/onscreen loadtest run --plan "$OUT/plan.json" --host "http://127.0.0.1:$PORT" --login-seconds "${LOGIN:-60}" \
      --staff-seconds "${STAFF:-20}" --timer-seconds "${TIMER:-30}" ${RECONNECT:+--reconnect} --out "$OUT/run" || true ;;
  capacity)
    $BIN/onscreen loadtest capacity --scenario common --host "http://127.0.0.1:$PORT" --start "${START:-100}" \
      --step "${STEP:-100}" --max "${MAX:-5000}" --items "${ITEMS:-30}" --login-seconds "${LOGIN:-60}" \
      --allowed-seconds 3600 --out "$OUT" || true ;;
  *) echo "unknown measurement $WHAT (examday, capacity, ceiling)" >&2; exit 2 ;;
esac
cpu_report
profile_report
echo "Results in $OUT"
