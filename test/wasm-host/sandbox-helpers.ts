/** Shared by the sandbox tests: open a built module in a real sandbox, fixtures, fault matcher. */
import assert from 'node:assert/strict';
import { basename } from 'node:path';
import { fromRoot } from '../../common/paths.js';
import { startSandbox } from '../../wasm-host/module-sandbox.js';
import { startMeteredSandbox } from '../../wasm-host/metered-sandbox.js';
import type { Isolation } from '../../wasm-host/select.js';
import { SandboxFault, type ModuleSandbox, type SandboxFaultKind, type SandboxLimits } from '../../wasm-host/types.js';
import { effectiveConfig, type Manifest } from '../../protocol/index.js';
import { ensureBuilt, exampleModuleDirs } from '../../modules-as/tools/build-examples.js';

/** The sandbox each isolation runs modules in, as the agent picks it (wasm-host/select.ts). */
export const SANDBOXES = { metered: startMeteredSandbox, worker: startSandbox } as const satisfies Record<Isolation, unknown>;

/** Builds the module folder if needed and starts it with manifest defaults; closed after the test. */
export async function openSandbox(
  t: { after(fn: () => Promise<void>): void },
  dir: string,
  limits: SandboxLimits,
  patch: (m: Manifest) => Manifest = (m) => m,
  isolation: Isolation = 'worker',
): Promise<ModuleSandbox> {
  const built = await ensureBuilt(dir);
  const manifest = patch(built.manifest);
  const sandbox = await SANDBOXES[isolation]({
    wasm: built.bytes,
    manifest,
    config: effectiveConfig(manifest, {}),
    limits,
    batchCapacity: 256,
  });
  t.after(() => sandbox.close());
  return sandbox;
}

export const hostile = (name: string): string => fromRoot('test', 'fixtures', 'hostile', name);
export const example = (name: string): string => exampleModuleDirs().find((dir) => basename(dir) === name)!;
export const batch = (...values: number[]): [Float64Array, Float64Array] => [
  new Float64Array(values.map((_, i) => 1000 + i)),
  new Float64Array(values),
];

export function isFault(kind: SandboxFaultKind, pattern: RegExp) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof SandboxFault, `expected a SandboxFault, got ${String(error)}`);
    assert.equal(error.kind, kind, error.message);
    assert.match(error.message, pattern);
    return true;
  };
}
