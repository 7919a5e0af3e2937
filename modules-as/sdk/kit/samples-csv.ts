/** Timestamped samples as CSV (`t,value` with epoch milliseconds), the input of local runs and golden cases. */
import { readFileSync } from 'node:fs';
import { moduleKitErrors } from './errors.js';

export interface Samples {
  readonly timestamps: Float64Array;
  readonly values: Float64Array;
}

/** Parses CSV text; a header line is optional; every error names the line. */
export function parseSamplesCsv(text: string, path = '<input>'): Samples {
  const times: number[] = [];
  const values: number[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const cells = line.split(',').map((cell) => cell.trim());
    if (index === 0 && cells.some((cell) => cell !== '' && Number.isNaN(Number(cell)))) return; // header
    if (cells.length < 2) throw moduleKitErrors.WF_MODULE_CSV_INVALID({ path, line: index + 1, reason: 'expected two columns: t,value' });
    const t = Number(cells[0]);
    const value = Number(cells[1]);
    if (cells[0] === '' || !Number.isFinite(t)) throw moduleKitErrors.WF_MODULE_CSV_INVALID({ path, line: index + 1, reason: `t '${cells[0]}' is not a number` });
    if (cells[1] === '' || !Number.isFinite(value)) throw moduleKitErrors.WF_MODULE_CSV_INVALID({ path, line: index + 1, reason: `value '${cells[1]}' is not a number` });
    if (times.length > 0 && t < times[times.length - 1]!) throw moduleKitErrors.WF_MODULE_CSV_INVALID({ path, line: index + 1, reason: 'timestamps must not go backwards' });
    times.push(t);
    values.push(value);
  });
  return { timestamps: Float64Array.from(times), values: Float64Array.from(values) };
}

export function readSamplesCsv(path: string): Samples {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw moduleKitErrors.WF_MODULE_CSV_INVALID({ path, line: 0, reason: (error as Error).message });
  }
  return parseSamplesCsv(text, path);
}
