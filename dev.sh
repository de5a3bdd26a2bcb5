#!/usr/bin/env bash
# One entry point for newcomers and CI.
#   ./dev.sh run  [ARGS]    set up, then run spark-exporter ARGS (no ARGS: the exporter on this machine, foreground)
#   ./dev.sh demo           set up, then run the two-node simulated cluster demo
#   ./dev.sh test [ARGS]    set up (including Debian's prometheus, node_exporter, VictoriaMetrics), run all tests
#   ./dev.sh web            build the live page (web/) into the package
#   ./dev.sh screenshot     refresh docs/command-center.png from the demo
#   ./dev.sh setup          only set up
set -euo pipefail
cd "$(dirname "$0")"
VENV=${VENV:-.venv}
PY=${PYTHON:-python3}
# The editable install is redone only when what it depends on changes (a hash of these files).
STAMP="$VENV/.dev-sh-installed"
say() { echo "dev.sh: $*" >&2; }

need_apt() {
  local missing=()
  # Debian's python3 has no ensurepip (so no venv) without python3-venv.
  [ -x "$VENV/bin/python" ] || "$PY" -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
  command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
  command -v prometheus-node-exporter >/dev/null 2>&1 || missing+=(prometheus-node-exporter)
  if [ "${1:-}" = all ]; then
    { command -v victoria-metrics >/dev/null 2>&1 && command -v vmalert >/dev/null 2>&1; } || missing+=(victoria-metrics)
    command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
    command -v openssl >/dev/null 2>&1 || missing+=(openssl)
    command -v cc >/dev/null 2>&1 || missing+=(gcc libc6-dev)  # compiles tests/fakenvml/ (the fake NVML)
    # PySpark (test extra) runs a real local Spark application on a Java 17 (or 21) runtime.
    java -version 2>&1 | grep -Eq 'version "(17|21)' || missing+=(openjdk-17-jre-headless)
    command -v chromium >/dev/null 2>&1 || missing+=(chromium)  # the live page's end-to-end tests
  fi
  if [ "${1:-}" = all ] || [ "${1:-}" = web ]; then
    command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)  # builds web/ (Vite needs Node.js 20 or newer)
  fi
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
}

apt_install() {
  say "installing Debian packages: $* (apt-get)"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

install_key() {
  { "$PY" --version 2>&1; cat pyproject.toml setup.py; } | sha256sum | cut -d' ' -f1
}

setup_venv() {
  if [ ! -x "$VENV/bin/python" ]; then
    command -v "$PY" >/dev/null 2>&1 || { say "no $PY on PATH: install Python 3.11 or newer"; exit 1; }
    "$PY" -c 'import ensurepip, venv' >/dev/null 2>&1 || apt_install python3-venv
    say "creating the virtual environment $VENV"
    "$PY" -m venv "$VENV"
  fi
  local key
  key=$(install_key)
  if [ -x "$VENV/bin/spark-exporter" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$key" ]; then
    return 0  # installed from this pyproject.toml already; the install is editable, so code changes need nothing
  fi
  say "installing spark-exporter (editable) and its test dependencies into $VENV with pip (the first time takes a minute)"
  rm -f "$STAMP"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ".[test]" 2>&1 \
    | { grep -v -e '^WARNING: Location' || true; }
  echo "$key" >"$STAMP"
  say "ready: run the tools as $VENV/bin/spark-exporter, or 'source $VENV/bin/activate' to put them on PATH"
}

# tests/inference_targets.py runs the vLLM and SGLang stand-ins on prometheus_client 0.22.1 too (the last
# release before 0.23.1 escaped names for Prometheus 2.x): installed once from PyPI beside the venv's
# packages, so the tests need no network.
OLD_PROMETHEUS_CLIENT=0.22.1
setup_old_prometheus_client() {
  local target="$VENV/prometheus_client-$OLD_PROMETHEUS_CLIENT"
  [ -f "$target/prometheus_client/__init__.py" ] && return 0
  say "installing prometheus_client $OLD_PROMETHEUS_CLIENT into $target (pip --target, for the inference tests)"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps --target "$target" \
    "prometheus_client==$OLD_PROMETHEUS_CLIENT" 2>&1 | { grep -v -e '^WARNING: Location' || true; }
}

web_key() {
  { node --version; cat web/package-lock.json; } | sha256sum | cut -d' ' -f1
}

# Build the live page into spark_exporter/query/webui/ (package data). npm ci runs only when the
# lock file (or Node.js) changed; the build itself always runs, since it regenerates the API types
# from the Python models and type-checks the page against them.
build_web() {
  local key stamp=web/node_modules/.dev-sh-installed
  key=$(web_key)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$key" ]; then
    say "installing web/'s npm packages (npm ci)"
    (cd web && npm ci --no-audit --no-fund --loglevel=error)
    echo "$key" >"$stamp"
  fi
  say "building the live page (web/ -> spark_exporter/query/webui/)"
  (cd web && SPARK_EXPORTER_PYTHON="$PWD/../$VENV/bin/python" npm run --silent build >/dev/null)
}

usage() {
  cat <<'EOF'
usage: ./dev.sh COMMAND [ARGS]
  run  [ARGS]    set up, then run 'spark-exporter ARGS': with no ARGS or only flags the exporter on
                 this machine, in the foreground ('./dev.sh run --help' lists its flags); or a
                 subcommand: './dev.sh run config rules --output DIR', query, api, demo, gpu
  demo [FLAGS]   set up, then run the two-node simulated cluster demo
  test [ARGS]    set up (including Debian's prometheus, node_exporter, VictoriaMetrics), run all tests;
                 ARGS go to pytest
  web            build the live page (web/) that 'spark-exporter api' serves at /
  screenshot     run the demo and refresh docs/command-center.png (headless Chromium)
  setup          only set up (.venv with the project and its test tools, Debian packages, the page)
  help           this text
EOF
}

cmd=${1:-help}
[ $# -gt 0 ] && shift
case "$cmd" in
  setup) need_apt all; setup_venv; setup_old_prometheus_client; build_web ;;
  web) need_apt web; setup_venv; build_web ;;
  screenshot)
    need_apt all; setup_venv; build_web
    exec "$VENV/bin/python" web/scripts/screenshot.py --output docs/command-center.png
    ;;
  run) setup_venv; exec "$VENV/bin/spark-exporter" "$@" ;;
  demo) need_apt; setup_venv; exec "$VENV/bin/spark-exporter" demo "$@" ;;
  test)
    need_apt all
    setup_venv
    setup_old_prometheus_client
    "$VENV/bin/ruff" check spark_exporter tests bench
    "$VENV/bin/mypy" spark_exporter
    build_web
    say "web/: type check done by the build; unit tests (Vitest)"
    (cd web && npm test --silent)
    exec "$VENV/bin/python" -m pytest "$@"
    ;;
  help|-h|--help) usage ;;
  *) say "unknown command '$cmd'"; usage >&2; exit 2 ;;
esac
