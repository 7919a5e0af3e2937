/** `wasmfleet module test DIR --fuzz N [--seed S]`: random batches under the device's limits (modules-as/sdk/kit/fuzz.ts). */
import type { BuiltModule } from '../../modules-as/sdk/kit/build-module.js';
import { fuzzModule, type FuzzReport } from '../../modules-as/sdk/kit/fuzz.js';
import { emit, progressBar } from '../output.js';

export interface FuzzArgs {
  json: boolean;
  fuzz: number;
  seed?: number;
  profile: string;
}

export function formatFuzzReport(report: FuzzReport): string {
  const lines = report.examples.map((f) =>
    [
      `FOUND   ${f.kind} x${report.counts[f.kind]}: ${f.message}`,
      `        first at batch ${f.batch} (${f.samples} samples), config ${JSON.stringify(f.config)}`,
    ].join('\n'),
  );
  const verdict = report.passed ? `ok      ${report.batches} random batches, nothing found` : `FAILED  ${report.examples.length} kind(s) of problem in ${report.batches} random batches`;
  const expected = report.nonFiniteAfterHostileInput > 0 ? [`note    ${report.nonFiniteAfterHostileInput} batch(es) had non-finite outputs after NaN, ±Infinity or huge inputs (expected; the agent drops and counts them)`] : [];
  if (report.configsRefused > 0) expected.push(`note    the module refused ${report.configsRefused} random config(s) at start, e.g. ${report.configRefusal}; ran its defaults instead`);
  return [...lines, ...expected, verdict, `seed ${report.seed} (reproduce: --fuzz ${report.batches} --seed ${report.seed})`].join('\n');
}

export async function runFuzz(built: BuiltModule, args: FuzzArgs): Promise<void> {
  const bar = args.json ? undefined : progressBar(args.fuzz, 'fuzzing');
  const report = await fuzzModule(built, {
    batches: args.fuzz,
    profile: args.profile,
    ...(args.seed !== undefined ? { seed: args.seed } : {}),
    ...(bar ? { onBatch: (done: number) => bar.update(done) } : {}),
  });
  bar?.done();
  emit(args.json, report, () => formatFuzzReport(report));
  if (!report.passed) process.exitCode = 1;
}
