/**
 * A real platform (Aedes over TCP, REST over HTTP, a SQLite file) on free ports in a temp dir,
 * closed and removed after the test, with the environment the CLI needs to act as its admin
 * and publisher.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { silentLogger } from '../../common/logger.js';
import { startPlatform, type RunningPlatform } from '../../platform/start-platform.js';

export interface TestPlatform {
  readonly platform: RunningPlatform;
  /** The temp dir, for files the test writes beside the platform's data. */
  readonly dir: string;
  /** WASMFLEET_API, WASMFLEET_TOKEN (the first start's admin token) and WASMFLEET_PUBLISHER_KEY. */
  readonly env: Record<string, string>;
}

export async function startTestPlatform(t: Pick<TestContext, 'after'>, prefix: string): Promise<TestPlatform> {
  const dir = mkdtempSync(join(tmpdir(), `wf-${prefix}-`));
  const platform = await startPlatform({ dataDir: join(dir, 'data'), mqttPort: 0, httpPort: 0 }, silentLogger);
  t.after(async () => {
    await platform.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const env = {
    WASMFLEET_API: platform.apiUrl,
    WASMFLEET_TOKEN: platform.newAdminToken!,
    WASMFLEET_PUBLISHER_KEY: join(platform.dataDir.path, 'keys', 'publisher.key'),
  };
  return { platform, dir, env };
}
