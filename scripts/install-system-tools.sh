#!/usr/bin/env bash
# Installs the Debian packages the tests start as real processes: mosquitto-clients, redis-server
# (not enabled as a service: tests run their own on free ports) and chromium (headless, for the
# console's browser tests). Idempotent; needs root or sudo.
set -euo pipefail
missing=()
command -v mosquitto_sub >/dev/null 2>&1 && command -v mosquitto_pub >/dev/null 2>&1 || missing+=(mosquitto-clients)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq >/dev/null || echo "install-system-tools.sh: apt-get update reported errors; going on with the lists it has" >&2
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
# The Debian package starts a redis-server on 6379 where systemd runs; tests never use it.
