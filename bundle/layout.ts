/**
 * Names and places of the agent bundle, apart from the build so that the CLI can find a bundle
 * without loading esbuild.
 */
import { fromRoot } from '../common/paths.js';

export const BUNDLE_ENTRY = 'wasmfleet-agent.mjs';
export const BUNDLE_WORKER = 'worker.mjs';
/** The ceiling for the bundle without a Node runtime. */
export const MAX_BUNDLE_BYTES = 1024 * 1024;

export function defaultBundleDir(): string {
  return fromRoot('dist', 'agent-bundle');
}
