/** Renders figures as bench/RESULTS.md, stamped with the command and the machine. */
import { cpus, totalmem, arch, platform, release } from 'node:os';
import type { BenchFigure } from './figure.js';

function fmt(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString('en-US');
  return value.toPrecision(3);
}

export function machineLine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return `${cpus().length} × ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GiB, ${platform()} ${release()} ${arch()}, Node ${process.version}`;
}

export function renderResults(figures: readonly BenchFigure[], command: string, notes: readonly string[] = []): string {
  const lines = [
    '# Benchmark results',
    '',
    `Command: \`${command}\`  `,
    `Machine: ${machineLine()}  `,
    `Date: ${new Date().toISOString()}`,
    '',
    'Each row measures a subject against a baseline in the same run; the ratio is subject / baseline.',
    '',
    '| benchmark | subject | baseline | unit | subject value | baseline value | ratio | note |',
    '|---|---|---|---|---|---|---|---|',
    ...figures.map(
      (f) => `| ${f.bench} | ${f.subject} | ${f.baseline} | ${f.unit} | ${fmt(f.subjectValue)} | ${fmt(f.baselineValue)} | ${fmt(f.ratio)} | ${f.note ?? ''} |`,
    ),
  ];
  if (notes.length > 0) lines.push('', '## Notes', '', ...notes.map((n) => `- ${n}`));
  return lines.join('\n') + '\n';
}
