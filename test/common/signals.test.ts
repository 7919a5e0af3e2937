/** Shutdown signals, in a real child process: a follow-up SIGTERM waits, a second Ctrl-C exits 130. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fromRoot } from '../../common/paths.js';

/** A process whose clean shutdown takes 300 ms, then prints "clean" and exits 0. */
const SCRIPT = `
import { onShutdownSignal } from ${JSON.stringify(fromRoot('dist', 'common', 'signals.js'))};
onShutdownSignal(() => setTimeout(() => { console.log('clean'); process.exit(0); }, 300));
setInterval(() => {}, 1000);
console.log('ready');
`;

function run(signals: NodeJS.Signals[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', SCRIPT], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
      if (output.includes('ready') && signals.length > 0) {
        const [first, ...rest] = signals.splice(0);
        child.kill(first);
        rest.forEach((signal, i) => setTimeout(() => child.kill(signal), 30 * (i + 1)));
      }
    });
    child.on('exit', (code, signal) => resolve({ code, signal, output }));
  });
}

test('a SIGTERM during a clean shutdown is ignored: the shutdown completes and exits 0', async () => {
  const result = await run(['SIGINT', 'SIGTERM']);
  assert.deepEqual([result.code, result.signal], [0, null]);
  assert.match(result.output, /clean/);
});

test('a second Ctrl-C exits at once with 130', async () => {
  const result = await run(['SIGINT', 'SIGINT']);
  assert.equal(result.code, 130);
  assert.doesNotMatch(result.output, /clean/);
});
