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
 * bundle's own loading already grew. The soak (bench/soak/) runs its agents with these flags.
 *
 * No `--max-old-space-size`, on purpose. What the agent legitimately holds in its heap is set by
 * the profile, not by a constant: the spool's index costs ~130 bytes per pending result, so a
 * full 64 MiB spool (rpi4-arm64) of 200-byte results is ~38 MiB of live heap, and the index is
 * rebuilt from disk at every start. Rebuilt entries cost ~480 bytes each until recovery built
 * them as the same literal as a fresh write (~147 bytes since), and that restart then held 136 MiB
 * of live heap: with `--max-old-space-size=128` (or 64, or 32) it died of "JavaScript heap out of
 * memory". A bound tight enough to matter on a 1 GB board kills an agent recovering from a long
 * outage, and again at each restart, until its spool is deleted; the index's size is the
 * profile's choice (`spool.maxBytes`), so that is where it is bounded.
 * Everything else is small: 14 MiB of live heap per 20 agents in the soak, and the largest
 * module the caps allow starts with 12 MiB of old space. Node already sizes V8's heap limit from
 * the cgroup's memory limit (the unit's `MemoryMax`, derived from the profile) rather than the
 * board's RAM, and `MemoryMax` is the backstop for a leak.
 */
export const AGENT_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1'];
