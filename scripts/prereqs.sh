#!/usr/bin/env bash
# Installs what building the node (`build`) or running every test (`test`) needs, on Debian.
#
#   scripts/prereqs.sh build   clang and libclang-dev (RocksDB's and wasm3's bindings are generated)
#   scripts/prereqs.sh test    build's, plus cargo-nextest, the wasm32 target, web3.py, eth-account,
#                              py-trie, Node.js with the npm packages of integration/tests/js, tshark,
#                              Prometheus and Chromium (the console's browser test)
#
# Debian packages are installed with apt-get as root, or through `sudo -n` where that works without a
# password; otherwise the script prints the exact command to run and exits with status 2 before any
# build starts. PLATON_NO_INSTALL=1 only checks, and prints the commands for what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

what="${1:-test}"
case "$what" in
  build | test) ;;
  *) echo "usage: scripts/prereqs.sh build|test" >&2; exit 64 ;;
esac

apt_missing=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
need_pkg() { have_pkg "$1" || apt_missing+=("$1"); }

need_pkg clang
need_pkg libclang-dev
# jemalloc (the node's allocator) is built from source by tikv-jemalloc-sys: configure and make.
need_pkg make
if [ "$what" = test ]; then
  need_pkg tshark
  need_pkg prometheus
  need_pkg chromium
  command -v node >/dev/null 2>&1 || apt_missing+=(nodejs npm)
  command -v python3 >/dev/null 2>&1 || apt_missing+=(python3 python3-pip)
  python3 -m pip --version >/dev/null 2>&1 || apt_missing+=(python3-pip)
fi

# How to run apt-get here, or nothing when we cannot.
apt_cmd=()
if [ "$(id -u)" = 0 ]; then
  apt_cmd=(apt-get)
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  apt_cmd=(sudo -n apt-get)
fi

if [ ${#apt_missing[@]} -gt 0 ]; then
  if [ -n "${PLATON_NO_INSTALL:-}" ] || [ ${#apt_cmd[@]} -eq 0 ]; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo "
    echo "scripts/prereqs.sh: missing Debian packages: ${apt_missing[*]}" >&2
    echo "  run: ${sudo}apt-get update && ${sudo}apt-get install -y ${apt_missing[*]}" >&2
    exit 2
  fi
  echo "scripts/prereqs.sh: installing ${apt_missing[*]}" >&2
  "${apt_cmd[@]}" update -qq
  DEBIAN_FRONTEND=noninteractive "${apt_cmd[@]}" install -y -qq "${apt_missing[@]}" >/dev/null
  # Debian's prometheus package starts a system service on :9090; the tests run their own server.
  if have_pkg prometheus && command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
fi

[ "$what" = build ] && exit 0

run_or_say() {
  # $1: what it is; the rest: the command.
  local label="$1"
  shift
  if [ -n "${PLATON_NO_INSTALL:-}" ]; then
    echo "scripts/prereqs.sh: missing $label; run: $*" >&2
    return 1
  fi
  echo "scripts/prereqs.sh: installing $label" >&2
  "$@"
}

failed=0
cargo nextest --version >/dev/null 2>&1 \
  || run_or_say cargo-nextest cargo install --locked cargo-nextest || failed=1
rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown \
  || run_or_say "the wasm32 target" rustup target add wasm32-unknown-unknown || failed=1
if ! python3 -c 'import web3, eth_account, trie' 2>/dev/null; then
  pip_user=()
  [ "$(id -u)" = 0 ] || pip_user=(--user)
  run_or_say "web3.py, eth-account and py-trie" python3 -m pip install --quiet "${pip_user[@]}" web3 eth-account trie \
    || run_or_say "web3.py, eth-account and py-trie" python3 -m pip install --quiet --break-system-packages "${pip_user[@]}" web3 eth-account trie \
    || failed=1
fi
# npm ci is cheap when node_modules matches the lock file, so it runs whenever the lock file is newer.
lock=integration/tests/js/package-lock.json
stamp=integration/tests/js/node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ "$lock" -nt "$stamp" ]; then
  run_or_say "the npm packages of integration/tests/js" \
    npm ci --prefix integration/tests/js --no-audit --no-fund --loglevel=error || failed=1
fi
exit "$failed"
