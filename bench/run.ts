/** `npm run bench`: runs every benchmark, prints the table and writes bench/RESULTS.md. */
import { writeFileSync } from 'node:fs';
import { fromRoot } from '../common/paths.js';
import { benchModuleThroughput } from './module-throughput.js';
import { benchDeployLatency } from './deploy-latency.js';
import { benchSandboxLifecycle } from './sandbox-lifecycle.js';
import { benchFootprint } from './footprint.js';
import { benchRolloutScale } from './rollout-scale.js';
import { renderResults } from './results-md.js';
import type { BenchFigure } from './figure.js';

const figures: BenchFigure[] = [];
process.stderr.write('module throughput (sandbox host path vs plain JS)…\n');
figures.push(...(await benchModuleThroughput()));
process.stderr.write('sandbox lifecycle (instantiate, watchdog)…\n');
figures.push(...(await benchSandboxLifecycle()));
process.stderr.write('agent footprint (bundle size, idle memory)…\n');
figures.push(...(await benchFootprint()));
process.stderr.write('deployment latency (3 agent processes)…\n');
figures.push(...(await benchDeployLatency()));
process.stderr.write('rollout scale (1,000 simulated devices in 4 agent processes)…\n');
figures.push(...(await benchRolloutScale()));

const notes = [
  'Throughput rows feed batches of 1,024 samples with up to 4 in flight (how the agent drains a backlog); the latency row awaits each batch before the next.',
  "threshold's kernel (one compare per sample) costs less than copying a batch across cores into the module's memory, so it stays near 1x plain JS; the other modules are 1.5-2x.",
  'The in-process and latency rows show what the host path adds to a bare wf_process call; the issue-3 target of under 20% is not reached.',
  'Instantiate: the sandbox keeps one booted spare worker with the loader warmed up; a start with no spare ready pays the worker boot (~45 ms; here the earlier benchmarks had already left a spare, hence the fast first start).',
  'Rollout scale: 1,000 real agents (4 processes, inline sandbox: same thread, no worker isolation, no CPU watchdog; one 2 Hz source each) with the broker connection-rate limits off; the time runs from the POST to every device reported running (healthy with no soak), and the note gives the devices/minute it implies.',
  'Machines here are shared and noisy: compare ratios, not absolute values, and expect about 10% run-to-run spread.',
];
const markdown = renderResults(figures, 'npm run bench', notes);
writeFileSync(fromRoot('bench', 'RESULTS.md'), markdown);
process.stdout.write(markdown);
