#!/usr/bin/env bash
# One entry point for newcomers and CI.
#   ./dev.sh run  [FLAGS]   set up, then run the exporter on this machine (foreground)
#   ./dev.sh demo           set up, then run the two-node simulated cluster demo
#   ./dev.sh test [ARGS]    set up (including Debian's prometheus, node_exporter, VictoriaMetrics), run all tests
#   ./dev.sh setup          only set up
set -euo pipefail
cd "$(dirname "$0")"
VENV=${VENV:-.venv}
PY=${PYTHON:-python3}

need_apt() {
  local missing=()
  command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
  command -v prometheus-node-exporter >/dev/null 2>&1 || missing+=(prometheus-node-exporter)
  if [ "${1:-}" = all ]; then
    { command -v victoria-metrics >/dev/null 2>&1 && command -v vmalert >/dev/null 2>&1; } || missing+=(victoria-metrics)
    command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
    command -v openssl >/dev/null 2>&1 || missing+=(openssl)
    # PySpark (test extra) runs a real local Spark application on a Java 17 (or 21) runtime.
    java -version 2>&1 | grep -Eq 'version "(17|21)' || missing+=(openjdk-17-jre-headless)
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    echo "dev.sh: installing Debian packages: ${missing[*]}" >&2
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

setup_venv() {
  if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
  fi
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ".[test]" 2>&1 \
    | { grep -v -e '^WARNING: Location' || true; }
}

cmd=${1:-help}
[ $# -gt 0 ] && shift
case "$cmd" in
  setup) need_apt all; setup_venv ;;
  run) setup_venv; exec "$VENV/bin/spark-exporter" "$@" ;;
  demo) need_apt; setup_venv; exec "$VENV/bin/spark-exporter" demo "$@" ;;
  test)
    need_apt all
    setup_venv
    "$VENV/bin/ruff" check spark_exporter tests bench
    "$VENV/bin/mypy" spark_exporter
    exec "$VENV/bin/python" -m pytest "$@"
    ;;
  *) sed -n '2,7p' "$0"; exit 2 ;;
esac
