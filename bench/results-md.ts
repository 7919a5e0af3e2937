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

const rowOf = (f: BenchFigure): string =>
  `| ${f.bench} | ${f.subject} | ${f.baseline} | ${f.unit} | ${fmt(f.subjectValue)} | ${fmt(f.baselineValue)} | ${fmt(f.ratio)} | ${f.note ?? ''} |`;

const inSuites = (bench: string, suites: readonly string[]): boolean => suites.some((s) => bench === s || bench.startsWith(`${s}/`));


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
    ...figures.map(rowOf),
  ];
  if (notes.length > 0) lines.push('', '## Notes', '', ...notes.map((n) => `- ${n}`));
  return lines.join('\n') + '\n';
}

/**
 * A partial run (`npm run bench -- NAME…`): the rows of the suites it ran replace theirs in the
 * existing RESULTS.md (in place, or appended for a suite new to the file), every other row stays,
 * and an `Updated:` line says which command refreshed which suites when.
 */
export function mergeResults(existing: string, figures: readonly BenchFigure[], suites: readonly string[], command: string, notes: readonly string[]): string {
  const lines = existing.split('\n');
  const notesAt = lines.indexOf('## Notes');
  const body = notesAt === -1 ? lines : lines.slice(0, notesAt);
  const out: string[] = [];
  let inserted = false;
  let lastRow = -1;
  for (const line of body) {
    if (supersededUpdate(line, suites)) continue;
    const bench = /^\| ([^|]+?) \|/.exec(line)?.[1];
    const isRow = bench !== undefined && bench !== 'benchmark' && !line.startsWith('|---');
    if (isRow && inSuites(bench, suites)) {
      if (!inserted) out.push(...figures.map(rowOf));
      inserted = true;
      lastRow = out.length - 1;
      continue;
    }
    out.push(line);
    if (isRow || line.startsWith('|---')) lastRow = out.length - 1;
  }
  if (!inserted) out.splice(lastRow + 1, 0, ...figures.map(rowOf));
  const dateAt = out.findIndex((l) => l.startsWith('Date: '));
  out.splice(dateAt + 1, 0, `Updated: \`${command}\` at ${new Date().toISOString()} (${suites.join(', ')}), ${machineLine()}  `);
  while (out.length > 0 && out[out.length - 1] === '') out.pop();
  out.push('', '## Notes', '', ...notes.map((n) => `- ${n}`));
  return out.join('\n') + '\n';
}

/** An `Updated:` line whose suites this run all refreshed again: its figures are gone, so is it. */
function supersededUpdate(line: string, suites: readonly string[]): boolean {
  const listed = /^Updated: .* at \S+ \(([^)]*)\), /.exec(line)?.[1];
  return listed !== undefined && listed.split(', ').every((suite) => suites.includes(suite));
}

/**
 * Sections a suite owns below the notes (the soak's per-minute table), by heading: each runs from
 * its `## ` heading to the next. A run keeps the ones it did not rewrite.
 */
export function ownSections(markdown: string): Map<string, string> {
  const sections = new Map<string, string>();
  const lines = markdown.split('\n');
  let heading: string | undefined;
  let body: string[] = [];
  const close = () => {
    if (heading !== undefined && heading !== '## Notes') sections.set(heading, [heading, ...body].join('\n').trimEnd());
  };
  for (const line of lines) {
    if (line.startsWith('## ')) {
      close();
      heading = line;
      body = [];
    } else body.push(line);
  }
  close();
  return sections;
}

/** `markdown` (table and notes, no own sections) with `sections` appended. */
export function withSections(markdown: string, sections: ReadonlyMap<string, string>): string {
  const base = [...ownSections(markdown).keys()].reduce((text, heading) => text.slice(0, text.indexOf(`\n${heading}\n`) + 1), markdown).trimEnd();
  return [base, ...sections.values()].join('\n\n') + '\n';
}
