/**
 * Names and places of the agent bundle, apart from the build so that the CLI can find a bundle
 * without loading esbuild.
 */
import { fromRoot } from '../common/paths.js';

export const BUNDLE_ENTRY = 'wasmfleet-agent.mjs';
export const BUNDLE_WORKER = 'worker.mjs';
/** The ceiling for the bundle without a Node runtime. */
export const MAX_BUNDLE_BYTES = 1024 * 1024;

/** `WASMFLEET_AGENT_BUNDLE_DIR` points flash at another build (tests build their own, in parallel). */
export function defaultBundleDir(): string {
  return process.env.WASMFLEET_AGENT_BUNDLE_DIR || fromRoot('dist', 'agent-bundle');
}
