#!/usr/bin/env bash
# What the browser tests need, fetched only when missing (fast when present):
#  - Debian's Chromium at /usr/bin/chromium (Playwright drives it; it never downloads a browser);
#  - axe-core's axe.min.js (the accessibility rules), from the npm registry into var/browser/;
#  - PHP's command line (php-cli), which runs the WordPress plugin in its test.
set -euo pipefail
cd "$(dirname "$0")/.."

AXE_VERSION="4.14.1"
AXE="var/browser/axe-core-${AXE_VERSION}/axe.min.js"

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Chromium is missing: installing Debian's chromium package"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
  else
    echo "The browser tests need Chromium at /usr/bin/chromium. Install it: sudo apt-get install chromium" >&2
    exit 1
  fi
fi

if ! command -v php >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "PHP is missing: installing Debian's php-cli package (the WordPress plugin's test runs it)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq php-cli >/dev/null \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq php-cli >/dev/null; }
  else
    echo "The WordPress plugin's test needs PHP. Install it: sudo apt-get install php-cli" >&2
    exit 1
  fi
fi

if [ ! -s "$AXE" ]; then
  if ! command -v npm >/dev/null; then
    echo "The browser tests need axe-core ${AXE_VERSION} (npm). Install npm (sudo apt-get install npm) or put axe.min.js at $AXE" >&2
    exit 1
  fi
  dir="$(dirname "$AXE")"
  mkdir -p "$dir"
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "axe-core@${AXE_VERSION}" >/dev/null)
  tar -xzf "$tmp"/axe-core-*.tgz -C "$tmp"
  cp "$tmp/package/axe.min.js" "$tmp/package/LICENSE" "$dir/"
  rm -rf "$tmp"
  echo "axe-core ${AXE_VERSION} is in $dir"
fi
