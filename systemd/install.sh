#!/usr/bin/env bash
# Install spark-exporter on this node as a hardened systemd service.
#
#   sudo systemd/install.sh             the exporter (same as --exporter): venv in /opt/spark-exporter, unit, config; started
#   sudo systemd/install.sh --rules     only the rules, to /etc/prometheus/spark-exporter/rules/ (a Prometheus host)
#   sudo systemd/install.sh --api       the telemetry API unit and an example /etc/spark-exporter/inventory.yml
#   --exporter, --rules, --api combine; --root DIR --no-start stages everything under DIR (packaging, tests)
#   --wheel FILE installs that wheel (built once with 'pip wheel --no-deps .') instead of building this clone
#
# Existing configuration (/etc/spark-exporter/*, /etc/default/spark-exporter*) is kept; the unit files and
# the rule files are replaced with this clone's.
set -euo pipefail
usage() {
  cat <<'EOF'
usage: systemd/install.sh [--exporter] [--rules] [--api] [--root DIR] [--no-start] [--wheel FILE]
Install spark-exporter from this clone as hardened systemd services (run as root). Name what to
install; with none of --exporter, --rules, --api it installs the exporter.
  --exporter    the exporter: venv in /opt/spark-exporter, unit, /etc/spark-exporter/config.yml;
                enabled and started
  --rules       the rule files, to /etc/prometheus/spark-exporter/rules/ (a Prometheus host needs
                nothing else)
  --api         the telemetry API unit (not started) and /etc/spark-exporter/inventory.yml from
                systemd/inventory.example.yml
  --root DIR    stage everything under DIR instead of / (packaging, tests)
  --no-start    do not enable or start the exporter unit
  --wheel FILE  install this spark-exporter wheel (from 'pip wheel --no-deps .' on a build
                host, so the nodes need no Node.js build) instead of building this clone;
                units, configuration and rules still come from this clone
Existing configuration (/etc/spark-exporter/*, /etc/default/spark-exporter*) is kept; the unit
files and the rule files are replaced with this clone's.
EOF
}
SRC=$(cd "$(dirname "$0")/.." && pwd)
ROOT=/
START=1
EXPORTER=0
RULES=0
API=0
WHEEL=
while [ $# -gt 0 ]; do
  case "$1" in
    --root) ROOT=$2; shift 2 ;;
    --root=*) ROOT=${1#--root=}; shift ;;
    --no-start) START=0; shift ;;
    --exporter) EXPORTER=1; shift ;;
    --rules) RULES=1; shift ;;
    --api) API=1; shift ;;
    --wheel) [ $# -gt 1 ] || { echo "install.sh: --wheel needs a .whl file" >&2; exit 2; }; WHEEL=$2; shift 2 ;;
    --wheel=*) WHEEL=${1#--wheel=}; [ -n "$WHEEL" ] || { echo "install.sh: --wheel needs a .whl file" >&2; exit 2; }; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done
ROOT=${ROOT%/}
if [ -n "$WHEEL" ] && { [ ! -f "$WHEEL" ] || [ "${WHEEL%.whl}" = "$WHEEL" ]; }; then
  echo "install.sh: --wheel needs a .whl file; $WHEEL is not one" >&2
  exit 2
fi
# No component named: the exporter, as on every node.
[ "$EXPORTER$RULES$API" != 000 ] || EXPORTER=1
PREFIX="$ROOT/opt/spark-exporter"
PY=${PYTHON:-python3}

put() {  # put MODE SRC DEST: install unless DEST exists
  if [ -e "$3" ]; then
    echo "install.sh: keeping existing $3"
  else
    install -D -m "$1" "$2" "$3"
  fi
}

if [ "$RULES" = 1 ]; then
  # Rule files only: no user, venv or unit, so a Prometheus host needs nothing else.
  RULE_DIR="$ROOT/etc/prometheus/spark-exporter/rules"
  mkdir -p "$RULE_DIR"
  install -m 0644 "$SRC"/rules/*.yml "$RULE_DIR/"
  if command -v promtool >/dev/null 2>&1; then
    promtool check rules "$RULE_DIR"/*.yml >/dev/null
  fi
  echo "rules installed in $RULE_DIR: list '/etc/prometheus/spark-exporter/rules/*.yml' under rule_files"
  echo "  in prometheus.yml ('spark-exporter config prometheus' does), then reload Prometheus"
fi

if [ "$EXPORTER" = 1 ] || [ "$API" = 1 ]; then
  if [ "$ROOT" = "" ] && ! id spark-exporter >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin spark-exporter
  fi
  mkdir -p "$PREFIX"
  [ -x "$PREFIX/venv/bin/python" ] || "$PY" -m venv "$PREFIX/venv"
  "$PREFIX/venv/bin/python" -m pip install -q --disable-pip-version-check "${WHEEL:-$SRC}" 2>&1 | { grep -v '^WARNING: Location' || true; }
  if [ -n "$WHEEL" ]; then
    # pip takes a wheel of the version already installed as "already satisfied" and keeps the old files (a
    # directory it always rebuilds); the version is not bumped per build, so the wheel's files are put in again.
    "$PREFIX/venv/bin/python" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps "$WHEEL" 2>&1 | { grep -v '^WARNING: Location' || true; }
  fi
  mkdir -p "$PREFIX/src"
  cp -r "$SRC/README.md" "$SRC/docs" "$PREFIX/src/"
fi

if [ "$EXPORTER" = 1 ]; then
  install -D -m 0644 "$SRC/systemd/spark-exporter.service" "$ROOT/etc/systemd/system/spark-exporter.service"
  put 0644 "$SRC/systemd/spark-exporter.default" "$ROOT/etc/default/spark-exporter"
  put 0644 "$SRC/systemd/config.yml" "$ROOT/etc/spark-exporter/config.yml"
  # Refuse to finish with a config the daemon would reject.
  "$PREFIX/venv/bin/spark-exporter" --config.file="$ROOT/etc/spark-exporter/config.yml" --check-config >/dev/null
fi

if [ "$API" = 1 ]; then
  install -D -m 0644 "$SRC/systemd/spark-exporter-api.service" "$ROOT/etc/systemd/system/spark-exporter-api.service"
  put 0644 "$SRC/systemd/spark-exporter-api.default" "$ROOT/etc/default/spark-exporter-api"
  put 0644 "$SRC/systemd/inventory.example.yml" "$ROOT/etc/spark-exporter/inventory.yml"
  # The unit reads this file: refuse to finish with an inventory the API would reject.
  "$PREFIX/venv/bin/python" -c 'import sys; from spark_exporter.prometheus.inventory import load_inventory as l; l(sys.argv[1])' \
    "$ROOT/etc/spark-exporter/inventory.yml" \
    || { echo "install.sh: fix $ROOT/etc/spark-exporter/inventory.yml (above)" >&2; exit 2; }
  echo "API installed (not started): describe your nodes in /etc/spark-exporter/inventory.yml, set PROMETHEUS_URL in"
  echo "  /etc/default/spark-exporter-api, then: systemctl enable --now spark-exporter-api"
fi

if [ "$EXPORTER" = 1 ] && [ "$ROOT" = "" ] && [ "$START" = 1 ]; then
  systemctl daemon-reload
  systemctl enable --now spark-exporter.service
  echo "spark-exporter is running: curl -s http://localhost:19400/metrics | head"
elif [ "$EXPORTER" = 1 ] || [ "$API" = 1 ]; then
  [ "$ROOT" != "" ] || systemctl daemon-reload
  echo "installed under ${ROOT:-/} (not started)"
fi
