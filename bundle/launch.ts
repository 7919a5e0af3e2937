/**
 * How a gateway launches the agent beyond `node wasmfleet-agent.mjs --config …` (flags and
 * environment): one place for
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

/**
 * Node flags the agent runs with. V8 lets the young generation grow to 16 MiB semi-spaces and
 * keeps what it grew; an agent allocates a little garbage per batch (grouping, JSON), so a 1 MiB
 * cap costs a few more scavenges and saves ~1.3 MiB resident with three modules running
 * (bench/footprint.ts, alternating runs). The agent also stops semi-space growth at run time
 * (device-agent/memory.ts) for agents started another way, but only a launch flag caps what the
 * bundle's own loading already grew.
 */
export const AGENT_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1'];
