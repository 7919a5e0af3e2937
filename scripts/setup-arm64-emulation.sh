#!/usr/bin/env bash
# Installs what test/bundle/arm64-qemu.test.ts and armv7l-qemu.test.ts need to run flashed agent
# bundles under user-mode emulation: Debian's qemu-user-static (qemu-aarch64-static and
# qemu-arm-static, run directly, no binfmt) and an arm64 and an armhf sysroot holding the few
# shared libraries Node links against, fetched with `apt-get download` and unpacked with `dpkg -x`. Also Debian's openssh-server (not started) for
# test/bundle/flash-ssh.test.ts, which runs its own sshd on a loopback port.
# Idempotent; needs root (CI runs as root).
# The sysroots go to $WASMFLEET_ARM64_SYSROOT and $WASMFLEET_ARMHF_SYSROOT (default
# ~/.cache/wasmfleet/arm64-sysroot and armhf-sysroot).
set -euo pipefail

CACHE=${HOME:-/root}/.cache/wasmfleet
ARM64_SYSROOT=${WASMFLEET_ARM64_SYSROOT:-$CACHE/arm64-sysroot}
ARMHF_SYSROOT=${WASMFLEET_ARMHF_SYSROOT:-$CACHE/armhf-sysroot}
# Node's official Linux binaries need libc, libm, libpthread, libdl (libc6), libstdc++ and
# libgcc_s; the armv7l one also libatomic.
ARM64_PACKAGES=(libc6:arm64 libstdc++6:arm64 libgcc-s1:arm64)
ARMHF_PACKAGES=(libc6:armhf libstdc++6:armhf libgcc-s1:armhf libatomic1:armhf)

if [ "$(id -u)" -ne 0 ]; then
  echo "setup-arm64-emulation.sh: run as root (it installs Debian packages)" >&2
  exit 1
fi

updated=no
apt_update() {
  if [ "$updated" = no ]; then
    # One mirror mid-sync fails the whole update; what is needed usually comes from the others,
    # and a package that cannot be had fails below with its own error.
    apt-get update -qq || echo "setup-arm64-emulation.sh: apt-get update reported errors; going on with the lists it has" >&2
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

# sysroot ARCH DIR PACKAGES...: downloads the packages for ARCH and unpacks them into DIR, once.
sysroot() {
  local arch=$1 dir=$2
  shift 2
  [ -e "$dir/.complete" ] && return 0
  if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
    dpkg --add-architecture "$arch"
    updated=no
  fi
  apt_update
  local work
  work=$(mktemp -d)
  (cd "$work" && apt-get download -qq "$@" 2>&1 | grep -v "unsandboxed as root" || true)
  ls "$work"/*.deb >/dev/null 2>&1 || { echo "setup-arm64-emulation.sh: apt-get download $* fetched nothing" >&2; rm -rf "$work"; exit 1; }
  rm -rf "$dir"
  mkdir -p "$dir"
  for deb in "$work"/*.deb; do dpkg -x "$deb" "$dir"; done
  rm -rf "$work"
  touch "$dir/.complete"
}

sysroot arm64 "$ARM64_SYSROOT" "${ARM64_PACKAGES[@]}"
sysroot armhf "$ARMHF_SYSROOT" "${ARMHF_PACKAGES[@]}"

echo "arm emulation ready: qemu-aarch64-static and qemu-arm-static, sysroots $ARM64_SYSROOT and $ARMHF_SYSROOT; sshd at /usr/sbin/sshd"
