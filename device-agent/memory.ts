/**
 * The agent process's memory settings. A gateway agent allocates little per batch (grouping,
 * JSON encoding), yet V8 grows its young generation up to 16 MiB per semi-space under the
 * bursts of start-up (module compile, the first deployments) and keeps it: ~6 MiB of resident
 * memory that buys nothing on a 1-4 batches per second workload. Growth is turned off, so the
 * young generation stays at its initial size (1 MiB semi-spaces) and scavenges a little more
 * often instead. V8 flags are per process: this runs once, from the agent's entry point
 * (device-agent/main.ts), never from library code that a server or a test imports.
 * Measured by bench/footprint.ts.
 */
import { setFlagsFromString } from 'node:v8';

export function applyAgentMemoryFlags(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
}
