#!/usr/bin/env bash
# Set up resetline on a fresh Debian/Raspberry Pi OS machine, then run the demo call or the tests.
#   ./setup.sh demo   install everything, then one reset call on the simulated line
#   ./setup.sh test   install everything, then the whole test suite (what CI runs)
# Idempotent: apt packages only when missing, the .venv/ at the repository root reused.
set -euo pipefail
cd "$(dirname "$0")"

APT_PACKAGES=(espeak-ng sox lrzsz sip-tester multimon-ng python3-venv)

install_apt() {
    local missing=() pkg
    for pkg in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "setup: installing ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_venv() {
    python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || { echo "setup: Python 3.11 or newer is needed (found $(python3 --version))" >&2; exit 1; }
    [ -x .venv/bin/python ] || python3 -m venv .venv
    .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
}

case "${1:-}" in
    demo)
        install_apt; install_venv
        exec .venv/bin/resetline demo --keys "8 0123456789" ;;
    test)
        install_apt; install_venv
        .venv/bin/mypy
        exec .venv/bin/python -m pytest -q ;;
    *)
        echo "usage: ./setup.sh demo | test" >&2; exit 2 ;;
esac
