/** `wasmfleet demo`: results from every simulated device, then a clean stop on Ctrl-C (SIGINT). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { startCli } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';

test('demo shows live results from all 5 devices and stops cleanly on SIGINT', async (t) => {
  const demo = startCli(['demo', '--json'], { WASMFLEET_LOG_LEVEL: 'warn' });
  t.after(() => demo.stop());

  const devices = await waitFor(
    'results from 5 demo devices',
    () => {
      const seen = new Set<string>();
      const modules = new Set<string>();
      for (const line of demo.output().split('\n')) {
        if (!line.startsWith('{"device"')) continue;
        const row = JSON.parse(line) as { device: string; module: string };
        seen.add(row.device);
        modules.add(row.module);
      }
      return seen.size === 5 && modules.size === 3 ? seen : undefined;
    },
    45_000,
    200,
  );
  assert.equal(devices.size, 5);

  const tempDir = /token in (\/\S+)\/data\/admin\.token/.exec(demo.output())?.[1];
  assert.ok(tempDir && existsSync(tempDir), 'the demo says where its data lives');
  demo.child.kill('SIGINT');
  // A follow-up SIGTERM (an impatient script or service manager) must not cut the shutdown short.
  setTimeout(() => demo.child.kill('SIGTERM'), 20);
  const code = await Promise.race([demo.exited, new Promise<string>((resolve) => setTimeout(() => resolve('still running after 20 s'), 20_000))]);
  assert.equal(code, 0, demo.output().slice(-2000));
  assert.equal(existsSync(tempDir), false, 'the demo removes its temp data dir on exit');
});
