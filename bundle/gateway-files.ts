/**
 * The files `wasmfleet flash` puts beside the bundle for the gateway: the systemd unit, the
 * install and uninstall scripts, and the README for the person at the device. Pure functions of
 * the device and its profile, so tests can check them without flashing.
 */
import type { FirmwareProfile } from '../firmware-profiles/index.js';
import { WORKER_LIMITS } from '../wasm-host/worker-pool.js';
import { AGENT_ENVIRONMENT, AGENT_NODE_FLAGS } from './launch.js';
import { BUNDLE_ENTRY, BUNDLE_WORKER } from './layout.js';

export const UNIT_NAME = 'wasmfleet-agent.service';
/** install.sh puts the absolute path of the node that runs the agent here. */
export const NODE_PLACEHOLDER = '@NODE@';
/** With `--with-node`, the bundled runtime's folder (node binary and its licence) beside the agent. */
export const RUNTIME_DIR = 'runtime';

export interface GatewayTarget {
  readonly deviceId: string;
  /** Install paths, user and service manager come from its `install` settings. */
  readonly profile: FirmwareProfile;
  /** The Node version bundled with `--with-node`; absent: the gateway's own node runs the agent. */
  readonly bundledNode?: string;
}

/** The profile's install settings with the schema's defaults (profiles are validated with them filled). */
function installOf(profile: FirmwareProfile): { dir: string; stateDir: string; user: string; groups: readonly string[] } {
  const install = profile.install ?? {};
  return { dir: install.dir ?? '/opt/wasmfleet', stateDir: install.stateDir ?? '/var/lib/wasmfleet', user: install.user ?? 'wasmfleet', groups: install.groups ?? [] };
}

/** The state directory the agent config names on the gateway. */
export const gatewayStateDir = (profile: FirmwareProfile): string => installOf(profile).stateDir;

/**
 * A ceiling for the whole service: Node and the agent, plus per module slot (and the one spare
 * worker) its worker isolate's heap caps and the module's linear memory. It is a backstop against
 * a leak taking the gateway down, not a budget the agent works within, so it is generous.
 */
export function memoryMaxMiB(profile: FirmwareProfile): number {
  const baseMiB = 96;
  const isolateMiB = WORKER_LIMITS.maxOldGenerationSizeMb + WORKER_LIMITS.maxYoungGenerationSizeMb + 8;
  const linearMiB = Math.ceil((profile.moduleLimits.memoryPages * 65536) / (1024 * 1024));
  return baseMiB + (profile.moduleLimits.maxModules + 1) * (isolateMiB + linearMiB);
}

export function systemdUnit({ deviceId, profile, bundledNode }: GatewayTarget): string {
  const { dir: INSTALL_DIR, stateDir: STATE_DIR, user: SERVICE_USER, groups } = installOf(profile);
  const stateName = STATE_DIR.replace(/^\/var\/lib\//, '');
  const runtime = bundledNode ? `# Node ${bundledNode} (${profile.arch}) travels with the agent in ${INSTALL_DIR}/${RUNTIME_DIR}.\n` : '';
  return `# wasmfleet device agent for ${deviceId} (profile ${profile.name}); installed by install.sh.
# ${NODE_PLACEHOLDER} is replaced by the path of the node that runs the agent at install time.
${runtime}[Unit]
Description=wasmfleet device agent (${deviceId})
Documentation=file://${INSTALL_DIR}/README.md
Wants=network-online.target
After=network-online.target
# Retry forever: an agent that gives up leaves the gateway unmanaged until someone visits it.
StartLimitIntervalSec=0

[Service]
Type=simple
ExecStart=${NODE_PLACEHOLDER} ${AGENT_NODE_FLAGS.join(' ')} ${INSTALL_DIR}/${BUNDLE_ENTRY} --config ${INSTALL_DIR}/agent.json
${Object.entries(AGENT_ENVIRONMENT).map(([name, value]) => `Environment=${name}=${value}\n`).join('')}Restart=always
RestartSec=5
User=${SERVICE_USER}
Group=${SERVICE_USER}
${groups.length ? `SupplementaryGroups=${groups.join(' ')}\n` : ''}StateDirectory=${stateName}
StateDirectoryMode=0700
ReadWritePaths=${STATE_DIR}
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
NoNewPrivileges=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
RestrictSUIDSGID=yes
RestrictNamespaces=yes
LockPersonality=yes
CapabilityBoundingSet=
UMask=0077
# No MemoryDenyWriteExecute: V8 compiles JavaScript and WebAssembly to executable memory.
# Devices stay visible: sensor sources read serial ports and IIO sensors (SupplementaryGroups).
MemoryMax=${memoryMaxMiB(profile)}M
TimeoutStopSec=15

[Install]
WantedBy=multi-user.target
`;
}

export function installScript({ deviceId, profile, bundledNode }: GatewayTarget): string {
  const { dir: INSTALL_DIR, stateDir: STATE_DIR, user: SERVICE_USER, groups } = installOf(profile);
  const findNode = bundledNode
    ? `# The bundled runtime: Node ${bundledNode} for ${profile.arch}. It must run here before anything is changed.
"$HERE/${RUNTIME_DIR}/node" -e 0 2>/dev/null || die "the bundled Node runtime is for ${profile.arch} and does not run on this $(uname -m) gateway; flash with the right --profile"
NODE=$PREFIX/${RUNTIME_DIR}/node`
    : `NODE=$(command -v node 2>/dev/null) || die "node not found; install Node.js >= $MIN_NODE system-wide, or flash with --with-node"
case "$NODE" in
  /home/*|/root/*) die "node at $NODE is under a home directory, which the service cannot read (ProtectHome=yes); install Node.js system-wide" ;;
esac
"$NODE" -e '
  const [have, need] = [process.versions.node, process.argv[1]].map((v) => v.split(".").map(Number));
  const cmp = have[0] - need[0] || have[1] - need[1] || have[2] - need[2];
  process.exit(cmp >= 0 ? 0 : 1);
' "$MIN_NODE" || die "node $("$NODE" -v) is older than $MIN_NODE, the minimum for profile ${profile.name}"`;
  const copyRuntime = bundledNode
    ? `
  install -d -m 0755 "$PREFIX/${RUNTIME_DIR}"
  install -m 0755 "$HERE/${RUNTIME_DIR}/node" "$PREFIX/${RUNTIME_DIR}/node"
  install -m 0644 "$HERE/${RUNTIME_DIR}/LICENSE" "$PREFIX/${RUNTIME_DIR}/LICENSE"`
    : '';
  const joinGroups = groups.length
    ? `
# Sensor devices (serial ports, I2C) belong to these groups; the ones this system has are joined.
for group in ${groups.join(' ')}; do
  if getent group "$group" >/dev/null 2>&1; then
    usermod -a -G "$group" "$SERVICE_USER" 2>/dev/null || addgroup "$SERVICE_USER" "$group" 2>/dev/null || true
  fi
done
`
    : '';
  return `#!/bin/sh
# Installs the wasmfleet agent for ${deviceId} as a systemd service. Safe to run again: it
# replaces the installed files and restarts the service. Run as root: sudo sh install.sh
# --no-start installs and enables it without a running systemd (image builds, chroots): it
# starts on the next boot.
set -eu

PREFIX=${INSTALL_DIR}
UNIT=/etc/systemd/system/${UNIT_NAME}
SERVICE_USER=${SERVICE_USER}
MIN_NODE=${profile.minNodeVersion}
HERE=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)

die() { echo "install.sh: $*" >&2; exit 1; }

NO_START=no
for arg in "$@"; do
  case "$arg" in
    --no-start) NO_START=yes ;;
    *) die "unknown option $arg (known: --no-start)" ;;
  esac
done

[ "$(id -u)" -eq 0 ] || die "run as root (sudo sh install.sh)"
if [ "$NO_START" = no ]; then
  command -v systemctl >/dev/null 2>&1 || die "systemctl not found; this installer needs systemd (--no-start installs without a running one)"
fi
${findNode}

if ! id -u "$SERVICE_USER" >/dev/null 2>&1; then
  if command -v useradd >/dev/null 2>&1; then
    useradd --system --user-group --no-create-home --home-dir ${STATE_DIR} --shell /usr/sbin/nologin "$SERVICE_USER"
  else
    addgroup -S "$SERVICE_USER" && adduser -S -D -H -h ${STATE_DIR} -s /sbin/nologin -G "$SERVICE_USER" "$SERVICE_USER"
  fi
fi
${joinGroups}
install -d -m 0755 "$PREFIX"
if [ "$HERE" != "$PREFIX" ]; then
  for file in ${BUNDLE_ENTRY} ${BUNDLE_WORKER} profile.json README.md; do
    install -m 0644 "$HERE/$file" "$PREFIX/$file"
  done
  install -m 0755 "$HERE/uninstall.sh" "$PREFIX/uninstall.sh"
  install -m 0600 "$HERE/agent.json" "$PREFIX/agent.json"${copyRuntime}
fi
chown "$SERVICE_USER" "$PREFIX/agent.json"
chmod 0600 "$PREFIX/agent.json"

sed "s#${NODE_PLACEHOLDER}#$NODE#g" "$HERE/${UNIT_NAME}" > "$UNIT.tmp"
chmod 0644 "$UNIT.tmp"
mv "$UNIT.tmp" "$UNIT"
if [ "$NO_START" = yes ]; then
  # What \`systemctl enable\` does, done by hand: no systemd needs to be running.
  install -d -m 0755 /etc/systemd/system/multi-user.target.wants
  ln -sf "$UNIT" /etc/systemd/system/multi-user.target.wants/${UNIT_NAME}
  echo "wasmfleet agent for ${deviceId} installed and enabled; it starts on the next boot (or: systemctl start ${UNIT_NAME})"
  exit 0
fi
systemctl daemon-reload
systemctl enable ${UNIT_NAME}
# restart, not start: a re-install must pick up the new bundle and config.
systemctl restart ${UNIT_NAME}
echo "wasmfleet agent for ${deviceId} installed; follow it with: journalctl -u ${UNIT_NAME} -f"
`;
}

export function uninstallScript({ deviceId, profile }: GatewayTarget): string {
  const { dir: INSTALL_DIR, stateDir: STATE_DIR, user: SERVICE_USER } = installOf(profile);
  return `#!/bin/sh
# Removes the wasmfleet agent service and its files. The agent's state (module cache, spooled
# results) in ${STATE_DIR} is kept unless --purge is given. Safe to run again.
set -eu

PREFIX=${INSTALL_DIR}
UNIT=/etc/systemd/system/${UNIT_NAME}
PURGE=no
if [ "\${1:-}" = "--purge" ]; then PURGE=yes; fi

[ "$(id -u)" -eq 0 ] || { echo "uninstall.sh: run as root (sudo sh uninstall.sh)" >&2; exit 1; }

if command -v systemctl >/dev/null 2>&1; then
  systemctl disable --now ${UNIT_NAME} 2>/dev/null || true
  rm -f "$UNIT"
  # Fails harmlessly where systemd is installed but not running (a chroot).
  systemctl daemon-reload 2>/dev/null || true
  systemctl reset-failed ${UNIT_NAME} 2>/dev/null || true
fi
rm -f "$UNIT" /etc/systemd/system/multi-user.target.wants/${UNIT_NAME}
rm -rf "$PREFIX"
if [ "$PURGE" = yes ]; then
  rm -rf ${STATE_DIR}
  if id -u ${SERVICE_USER} >/dev/null 2>&1; then
    userdel ${SERVICE_USER} 2>/dev/null || deluser ${SERVICE_USER} 2>/dev/null || true
  fi
fi
if [ "$PURGE" = yes ]; then
  echo "wasmfleet agent for ${deviceId} removed, state purged"
else
  echo "wasmfleet agent for ${deviceId} removed; state kept in ${STATE_DIR} (--purge removes it)"
fi
`;
}

export function gatewayReadme({ deviceId, profile, bundledNode }: GatewayTarget, brokerUrl: string): string {
  const { dir: INSTALL_DIR, stateDir: STATE_DIR, user: SERVICE_USER } = installOf(profile);
  const needs = bundledNode
    ? `Needs: Linux on ${profile.arch} with systemd. Node.js ${bundledNode} for ${profile.arch} comes with this
folder (\`${RUNTIME_DIR}/node\`), so the gateway needs no Node of its own.`
    : `Needs: Linux with systemd and Node.js ${profile.minNodeVersion} or newer installed system-wide
(\`node -v\`). Nothing else: the agent is one JavaScript file with no native parts.`;
  return `# wasmfleet agent for ${deviceId}

This folder runs the wasmfleet agent on this gateway as a systemd service. It was made for
profile **${profile.name}** (${profile.arch}) and connects to \`${brokerUrl}\` as \`${deviceId}\`.

${needs}

## Install

    sudo sh install.sh

It copies the agent to ${INSTALL_DIR}, creates the \`${SERVICE_USER}\` system user, installs and
starts \`${UNIT_NAME}\`. Running it again updates the installation.

Check it: \`systemctl status ${UNIT_NAME}\` and \`journalctl -u ${UNIT_NAME} -f\`
(JSON log lines; "agent started" then "desired state applied" once modules are deployed).

## Uninstall

    sudo sh ${INSTALL_DIR}/uninstall.sh           # keeps ${STATE_DIR}
    sudo sh ${INSTALL_DIR}/uninstall.sh --purge   # also removes the state and the user

## Files

| file | what |
|---|---|
| \`${BUNDLE_ENTRY}\`, \`${BUNDLE_WORKER}\` | the agent and its module sandbox worker |
| \`agent.json\` | device id, broker URL and **password** (mode 0600; keep it secret) |
| \`profile.json\` | the firmware profile: sensors and module limits |
| \`${UNIT_NAME}\` | the hardened systemd unit (unprivileged user, read-only system) |${bundledNode ? `\n| \`${RUNTIME_DIR}/node\`, \`${RUNTIME_DIR}/LICENSE\` | Node.js ${bundledNode} for ${profile.arch}, and its licence |` : ''}
| \`install.sh\`, \`uninstall.sh\` | the scripts above |

Lost \`agent.json\`? Its password cannot be recovered: ask the operator to remove and re-flash
the device.
`;
}
