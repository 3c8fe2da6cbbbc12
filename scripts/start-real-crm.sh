#!/usr/bin/env bash
# Start BottleCRM (PyPI django-crm 0.9.0, unmodified) on 127.0.0.1 for the real-CRM integration tests.
#
# Idempotent: a venv under .real-crm/ (installed once per pin set), SQLite migrated, the server
# (waitress) started in the background unless it already answers, and an admin user registered
# through BottleCRM's own API.  Configuration only (scripts/bottlecrm_settings.py), no patch.
#
# Environment: BOTTLECRM_PORT (default 8010), BOTTLECRM_EMAIL, BOTTLECRM_PASSWORD (default for a
# local run: generated once and kept in .real-crm/admin-password, mode 600; printed nowhere).
# Prints one line when ready, with the URL and the measured install, migrate and start times.
# Stop it with scripts/stop-real-crm.sh.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATE="$ROOT/.real-crm"
PORT="${BOTTLECRM_PORT:-8010}"
URL="http://127.0.0.1:$PORT"
VENV="$STATE/venv"
PY="$VENV/bin/python"
PID_FILE="$STATE/server.pid"
READY_TIMEOUT_S=60
# The set that runs BottleCRM 0.9.0 (2021): DRF 3.14 breaks drf-yasg 1.20, PyJWT 2 breaks
# djangorestframework-jwt; the rest is what pip resolved for them, pinned.
PINS=(
  django-crm==0.9.0 Django==3.2.25 djangorestframework==3.12.4 djangorestframework-jwt==1.11.0
  PyJWT==1.7.1 drf-yasg==1.20.3 django-cors-headers==3.14.0 celery==5.2.7 kombu==5.7.0
  arrow==1.4.0 django-phonenumber-field==5.2.0 phonenumbers==9.0.43 django-ses==4.8.2
  django-settings-export==1.2.1 python-dotenv==1.2.4 six==1.17.0 pytz==2026.6 "setuptools<70"
  waitress==3.0.2
)

export BOTTLECRM_PORT="$PORT" BOTTLECRM_STATE_DIR="$STATE"
export DJANGO_SETTINGS_MODULE=bottlecrm_settings PYTHONPATH="$ROOT/scripts" CELERY_BROKER_URL="memory://"
export BOTTLECRM_EMAIL="${BOTTLECRM_EMAIL:-poc-admin@example.com}" BOTTLECRM_URL_INTERNAL="$URL"

fail() { echo "start-real-crm: $*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

mkdir -p "$STATE"
chmod 700 "$STATE"

if [[ -z "${BOTTLECRM_PASSWORD:-}" ]]; then
  if [[ ! -s "$STATE/admin-password" ]]; then
    (umask 077 && python3 -c 'import secrets; print(secrets.token_urlsafe(18))' >"$STATE/admin-password")
  fi
  BOTTLECRM_PASSWORD=$(<"$STATE/admin-password")
fi
export BOTTLECRM_PASSWORD

answers() { "$PY" - <<'EOF' >/dev/null 2>&1
import os, urllib.request
urllib.request.urlopen(os.environ["BOTTLECRM_URL_INTERNAL"] + "/swagger.json", timeout=5).read()
EOF
}

install() {
  local stamp="$STATE/installed-pins" wanted
  wanted=$(printf '%s\n' "${PINS[@]}")
  [[ -x "$PY" ]] || python3 -m venv "$VENV"
  if [[ ! -f "$stamp" || "$(<"$stamp")" != "$wanted" ]]; then
    "$PY" -m pip install -q --disable-pip-version-check "${PINS[@]}" >"$STATE/pip.log" 2>&1 \
      || { tail -n 20 "$STATE/pip.log" >&2; fail "pip install failed (log: $STATE/pip.log)"; }
    printf '%s\n' "$wanted" >"$stamp"
  fi
}

migrate() {
  (cd "$STATE" && "$VENV/bin/django-admin" migrate --noinput >"$STATE/migrate.log" 2>&1) \
    || { tail -n 20 "$STATE/migrate.log" >&2; fail "migrate failed (log: $STATE/migrate.log)"; }
}

serve() {
  if [[ -f "$PID_FILE" ]] && kill -0 "$(<"$PID_FILE")" 2>/dev/null && answers; then
    return 0
  fi
  answers && fail "port $PORT already answers but not from a server this script started: stop it or set BOTTLECRM_PORT"
  (cd "$STATE" && exec setsid "$VENV/bin/waitress-serve" --host=127.0.0.1 --port="$PORT" --threads=4 \
    --call bottlecrm_settings:wsgi_application >"$STATE/server.out" 2>&1 </dev/null) &
  echo $! >"$PID_FILE"
  local deadline=$((SECONDS + READY_TIMEOUT_S))
  until answers; do
    kill -0 "$(<"$PID_FILE")" 2>/dev/null || { tail -n 20 "$STATE/server.out" >&2; fail "the server exited"; }
    ((SECONDS < deadline)) || fail "no answer at $URL within ${READY_TIMEOUT_S}s (log: $STATE/server.out)"
    sleep 0.2
  done
}

ensure_admin() {
  # Register through the API; if the user exists, log in; if the password differs (another
  # BOTTLECRM_PASSWORD than at first registration), set it through Django, as changepassword would.
  "$PY" - <<'EOF' || fail "could not register or log in the admin user"
import json, os, urllib.error, urllib.request

base, email, password = os.environ["BOTTLECRM_URL_INTERNAL"], os.environ["BOTTLECRM_EMAIL"], os.environ["BOTTLECRM_PASSWORD"]

def post(path, body):
    request = urllib.request.Request(base + path, json.dumps(body).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)

post("/api/auth/register/", {"email": email, "username": email.split("@")[0], "password": password})
status, answer = post("/api/auth/login/", {"email": email, "password": password})
if status != 200 or "token" not in answer:
    import django
    django.setup()
    from common.models import User
    user = User.objects.get(email=email)
    user.set_password(password)
    user.is_active = True
    user.save()
    status, answer = post("/api/auth/login/", {"email": email, "password": password})
raise SystemExit(0 if status == 200 and "token" in answer else 1)
EOF
}

started=$(now); install; install_s=$(since "$started")
started=$(now); migrate; migrate_s=$(since "$started")
started=$(now); serve; start_s=$(since "$started")
ensure_admin
echo "BottleCRM ready at $URL (install ${install_s}s, migrate ${migrate_s}s, start ${start_s}s; pid $(<"$PID_FILE"))"
