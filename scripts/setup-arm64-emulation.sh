#!/usr/bin/env bash
# Installs what test/bundle/arm64-qemu.test.ts needs to run the flashed arm64 agent bundle under
# user-mode emulation: Debian's qemu-user-static (qemu-aarch64-static, run directly, no binfmt)
# and an arm64 sysroot holding the few shared libraries Node links against, fetched with
# `apt-get download` and unpacked with `dpkg -x`. Also Debian's openssh-server (not started) for
# test/bundle/flash-ssh.test.ts, which runs its own sshd on a loopback port.
# Idempotent; needs root (CI runs as root).
# The sysroot goes to $WASMFLEET_ARM64_SYSROOT (default ~/.cache/wasmfleet/arm64-sysroot).
set -euo pipefail

SYSROOT=${WASMFLEET_ARM64_SYSROOT:-${HOME:-/root}/.cache/wasmfleet/arm64-sysroot}
# Node's official linux-arm64 binary needs libc, libm, libpthread, libdl (libc6), libstdc++ and libgcc_s.
PACKAGES=(libc6:arm64 libstdc++6:arm64 libgcc-s1:arm64)

if [ "$(id -u)" -ne 0 ]; then
  echo "setup-arm64-emulation.sh: run as root (it installs Debian packages)" >&2
  exit 1
fi

updated=no
apt_update() {
  if [ "$updated" = no ]; then
    apt-get update -qq
    updated=yes
  fi
}

if ! command -v qemu-aarch64-static >/dev/null 2>&1; then
  apt_update
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-user-static >/dev/null
fi

if [ ! -x /usr/sbin/sshd ]; then
  apt_update
  # policy-rc.d 101: the package must not start a system sshd on port 22; the test starts its own.
  added_policy=no
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 0755 /usr/sbin/policy-rc.d
    added_policy=yes
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssh-server >/dev/null
  if [ "$added_policy" = yes ]; then rm -f /usr/sbin/policy-rc.d; fi
fi

if [ ! -e "$SYSROOT/.complete" ]; then
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    dpkg --add-architecture arm64
    updated=no
  fi
  apt_update
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && apt-get download -qq "${PACKAGES[@]}")
  rm -rf "$SYSROOT"
  mkdir -p "$SYSROOT"
  for deb in "$work"/*.deb; do dpkg -x "$deb" "$SYSROOT"; done
  touch "$SYSROOT/.complete"
fi

echo "arm64 emulation ready: $(command -v qemu-aarch64-static), sysroot $SYSROOT; sshd at /usr/sbin/sshd"
