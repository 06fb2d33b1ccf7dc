#!/usr/bin/env bash
# Install Debian's chromium for the browser tests (apps/cli's report.html test drives it with playwright-core).
# Idempotent: does nothing when /usr/bin/chromium is there. Playwright's own browser download cannot work on
# these machines; Debian's package can.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update
$sudo apt-get install -y --no-install-recommends chromium
test -x /usr/bin/chromium || { echo "ensure-chromium: apt-get finished but /usr/bin/chromium is missing" >&2; exit 1; }
