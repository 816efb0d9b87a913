#!/usr/bin/env bash
# System packages the tests need: Debian's chromium for the browser tests and page screenshots;
# a Java 17 runtime for the Spark engine (labkit[spark], tests/test_engines.py).
# Idempotent and quiet when everything is there. Needs root (or sudo) the first time.
set -euo pipefail
PKGS=()
command -v chromium >/dev/null 2>&1 || PKGS+=(chromium fonts-dejavu-core)
command -v java >/dev/null 2>&1 || PKGS+=(openjdk-17-jre-headless)
if [ ${#PKGS[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${PKGS[@]}" >/dev/null
command -v chromium >/dev/null 2>&1 && chromium --version
command -v java >/dev/null 2>&1 && java -version 2>&1 | head -1
