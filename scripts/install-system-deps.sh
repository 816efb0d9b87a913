#!/usr/bin/env bash
# System packages the tests need: Debian's chromium for the browser tests and page screenshots.
# Idempotent and quiet when everything is there. Needs root (or sudo) the first time.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
chromium --version
