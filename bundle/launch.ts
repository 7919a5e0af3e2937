/**
 * How a gateway launches the agent beyond `node wasmfleet-agent.mjs --config …`: one place for
 * the systemd unit `wasmfleet flash` writes and for bench/footprint.ts, so the bench measures
 * what ships.
 */

/**
 * glibc's malloc raises its trim threshold after the agent frees its first large block (reading
 * the bundle, parsing it), and from then on keeps up to a few MiB of freed heap resident. Fixed
 * thresholds turn that dynamic adjustment off: ~1 MiB less resident for an idle agent (measured
 * with bench/footprint.ts and /proc/PID/smaps). Other C libraries (musl) ignore the variable.
 */
export const AGENT_ENVIRONMENT: Readonly<Record<string, string>> = {
  GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=131072:glibc.malloc.mmap_threshold=131072',
};
