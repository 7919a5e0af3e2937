/**
 * The child process of a trial start (trial.ts): receives one module over IPC, starts it in the
 * metered sandbox (what a device runs by default), answers with the outcome and exits. Nothing
 * it does can reach the parent's heap or event loop; the parent kills it past its deadline.
 */
import { startMeteredSandbox } from './metered-sandbox.js';
import { SandboxFault, type SandboxOptions } from './types.js';
import type { TrialOutcome } from './trial.js';

const answer = (outcome: TrialOutcome): void => {
  process.send!(outcome, () => process.exit(0));
};

// The parent went away: nobody waits for the answer.
process.on('disconnect', () => process.exit(0));
process.once('message', (options: SandboxOptions) => {
  void (async () => {
    try {
      const sandbox = await startMeteredSandbox({ ...options, wasm: new Uint8Array(options.wasm) });
      await sandbox.close();
      answer({ ok: true });
    } catch (error) {
      if (error instanceof SandboxFault) answer({ ok: false, kind: error.kind, reason: error.message });
      else answer({ ok: false, kind: 'crash', reason: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
    }
  })();
});
