/**
 * `npm run bench`: runs the benchmark suites, prints the table and writes bench/RESULTS.md.
 *   npm run bench                      every suite but the opt-in ones
 *   npm run bench -- broker rollout    only the named suites (a name matches by prefix); their rows
 *                                      in RESULTS.md are replaced and every other row is kept
 *   npm run bench -- --all             every suite, the opt-in ones too
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fromRoot } from '../common/paths.js';
import { mergeResults, ownSections, renderResults, withSections } from './results-md.js';
import { SUITES } from './suites.js';
import type { BenchFigure } from './figure.js';

const args = process.argv.slice(2);
const all = args.includes('--all');
const names = args.filter((a) => !a.startsWith('--'));
const unknown = names.filter((n) => !SUITES.some((s) => s.name.startsWith(n)));
if (unknown.length > 0) {
  process.stderr.write(`unknown bench suite(s): ${unknown.join(', ')}; known: ${SUITES.map((s) => s.name).join(', ')}\n`);
  process.exit(2);
}
const chosen = SUITES.filter((s) => (names.length > 0 ? names.some((n) => s.name.startsWith(n)) : all || !s.optIn));

const figures: BenchFigure[] = [];
for (const suite of chosen) {
  process.stderr.write(`${suite.title}…\n`);
  figures.push(...(await suite.run()));
}

const notes = [
  ...SUITES.flatMap((s) => s.notes),
  'Machines here are shared and noisy: compare ratios, not absolute values, and expect about 10% run-to-run spread. WF_BENCH_FIFO=1 runs the throughput rows under SCHED_FIFO (chrt -f 10) when other work loads the machine.',
];
const command = `${process.env.WF_BENCH_FIFO === '1' ? 'WF_BENCH_FIFO=1 ' : ''}npm run bench${args.length > 0 ? ` -- ${args.join(' ')}` : ''}`;
const path = fromRoot('bench', 'RESULTS.md');
const partial = names.length > 0 && existsSync(path);
const markdown = partial
  ? mergeResults(readFileSync(path, 'utf8'), figures, chosen.map((s) => s.name), command, notes)
  : renderResults(figures, command, notes);
// Sections of their own (the soak's per-minute table) survive runs that do not rewrite them.
const sections = existsSync(path) ? ownSections(readFileSync(path, 'utf8')) : new Map<string, string>();
for (const suite of chosen) {
  const section = suite.section?.();
  if (section) sections.set(section.split('\n')[0]!, section);
}
writeFileSync(path, withSections(markdown, sections));
process.stdout.write(markdown);
