#!/bin/sh
# The fleet page's browser test needs headless Chromium and its driver (Debian's packages).
# Installed here when missing and we are root (CI: a fresh Debian machine); otherwise one line.
if command -v chromedriver >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing chromium and chromium-driver (the fleet page's browser test)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver
else
    echo "chromedriver not found and not root: the browser test will be skipped" \
         "(apt-get install chromium chromium-driver)"
fi
