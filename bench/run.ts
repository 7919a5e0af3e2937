/** `npm run bench`: runs every benchmark, prints the table and writes bench/RESULTS.md. */
import { writeFileSync } from 'node:fs';
import { fromRoot } from '../common/paths.js';
import { benchModuleThroughput } from './module-throughput.js';
import { benchDeployLatency } from './deploy-latency.js';
import { benchSandboxLifecycle } from './sandbox-lifecycle.js';
import { benchFootprint } from './footprint.js';
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

const markdown = renderResults(figures, 'npm run bench');
writeFileSync(fromRoot('bench', 'RESULTS.md'), markdown);
process.stdout.write(markdown);
