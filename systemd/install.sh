#!/usr/bin/env bash
# Install spark-exporter on this node as a hardened systemd service.
#
#   sudo systemd/install.sh                 exporter: venv in /opt/spark-exporter, unit, config; enable + start
#   sudo systemd/install.sh --rules         also install rules/ to /etc/prometheus/spark-exporter/rules/
#   sudo systemd/install.sh --api           also install the telemetry API unit (not started)
#   systemd/install.sh --root DIR --no-start   stage everything under DIR (packaging, tests)
#
# Existing files in /etc are never overwritten.
set -euo pipefail
usage() {
  cat <<'EOF'
usage: systemd/install.sh [--rules] [--api] [--root DIR] [--no-start]
Install spark-exporter on this node as a hardened systemd service (run as root).
  (no option)   the exporter: venv in /opt/spark-exporter, unit, config; enable and start it
  --rules       also install rules/ to /etc/prometheus/spark-exporter/rules/
  --api         also install the telemetry API unit (not started)
  --root DIR    stage everything under DIR instead of / (packaging, tests)
  --no-start    do not enable or start the units
Existing files in /etc are never overwritten.
EOF
}
SRC=$(cd "$(dirname "$0")/.." && pwd)
ROOT=/
START=1
RULES=0
API=0
while [ $# -gt 0 ]; do
  case "$1" in
    --root) ROOT=$2; shift 2 ;;
    --root=*) ROOT=${1#--root=}; shift ;;
    --no-start) START=0; shift ;;
    --rules) RULES=1; shift ;;
    --api) API=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done
ROOT=${ROOT%/}
PREFIX="$ROOT/opt/spark-exporter"
PY=${PYTHON:-python3}

put() {  # put MODE SRC DEST: install unless DEST exists
  if [ -e "$3" ]; then
    echo "install.sh: keeping existing $3"
  else
    install -D -m "$1" "$2" "$3"
  fi
}

if [ "$ROOT" = "" ] && ! id spark-exporter >/dev/null 2>&1; then
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin spark-exporter
fi

mkdir -p "$PREFIX"
[ -x "$PREFIX/venv/bin/python" ] || "$PY" -m venv "$PREFIX/venv"
"$PREFIX/venv/bin/python" -m pip install -q --disable-pip-version-check "$SRC" 2>&1 | { grep -v '^WARNING: Location' || true; }
mkdir -p "$PREFIX/src"
cp -r "$SRC/README.md" "$SRC/docs" "$PREFIX/src/"

install -D -m 0644 "$SRC/systemd/spark-exporter.service" "$ROOT/etc/systemd/system/spark-exporter.service"
put 0644 "$SRC/systemd/spark-exporter.default" "$ROOT/etc/default/spark-exporter"
put 0644 "$SRC/systemd/config.yml" "$ROOT/etc/spark-exporter/config.yml"
if [ "$API" = 1 ]; then
  install -D -m 0644 "$SRC/systemd/spark-exporter-api.service" "$ROOT/etc/systemd/system/spark-exporter-api.service"
  put 0644 "$SRC/systemd/spark-exporter-api.default" "$ROOT/etc/default/spark-exporter-api"
fi
if [ "$RULES" = 1 ]; then
  mkdir -p "$ROOT/etc/prometheus/spark-exporter/rules"
  install -m 0644 "$SRC"/rules/*.yml "$ROOT/etc/prometheus/spark-exporter/rules/"
fi

# Refuse to finish with a config the daemon would reject.
"$PREFIX/venv/bin/spark-exporter" --config.file="$ROOT/etc/spark-exporter/config.yml" --check-config >/dev/null

if [ "$ROOT" = "" ] && [ "$START" = 1 ]; then
  systemctl daemon-reload
  systemctl enable --now spark-exporter.service
  echo "spark-exporter is running: curl -s http://localhost:19400/metrics | head"
else
  echo "installed under ${ROOT:-/} (not started)"
fi
