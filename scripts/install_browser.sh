#!/usr/bin/env bash
# Headless browser for the UI test (tests/test_ui.py): Debian's chromium + chromium-driver.
# Idempotent: installs nothing when both are already on PATH. Prints the versions; exits non-zero on
# failure. Selenium itself is a Python dev dependency (pip install -e '.[dev]').
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }

browser() {
    local b
    for b in chromium chromium-browser google-chrome; do
        if have "$b"; then echo "$b"; return 0; fi
    done
    return 1
}

if browser >/dev/null && have chromedriver; then
    echo "install_browser: $(browser) and chromedriver already installed"
else
    if ! have apt-get; then
        echo "install_browser: no apt-get here; install chromium and chromedriver by other means" >&2
        exit 1
    fi
    SUDO=()
    if [ "$(id -u)" -ne 0 ]; then
        if have sudo; then
            SUDO=(sudo)
        else
            echo "install_browser: not root and no sudo: cannot apt-get install chromium" >&2
            exit 1
        fi
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${SUDO[@]}" apt-get update
    "${SUDO[@]}" apt-get install -y --no-install-recommends chromium chromium-driver
fi

if ! browser >/dev/null || ! have chromedriver; then
    echo "install_browser: chromium or chromedriver still missing after the install" >&2
    exit 1
fi
# Debian's /usr/bin/chromium wrapper prints a harmless shell warning on some systems: keep stdout only.
echo "browser: $(command -v "$(browser)"): $("$(browser)" --version 2>/dev/null)"
echo "driver:  $(command -v chromedriver): $(chromedriver --version 2>/dev/null)"
