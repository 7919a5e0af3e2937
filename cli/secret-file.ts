/**
 * Rewrites a config file that holds a secret (an agent's or a hub's): written beside it with mode
 * 0600 and renamed over it, so a crash leaves the old file or the new one, never half of either,
 * and a file that was readable by others before is not after.
 */
import { renameSync, writeFileSync } from 'node:fs';

export function replaceSecretFile(path: string, value: unknown): void {
  const next = `${path}.${process.pid}.tmp`;
  writeFileSync(next, JSON.stringify(value, null, 2) + '\n', { mode: 0o600 });
  renameSync(next, path);
}
