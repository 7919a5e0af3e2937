/**
 * Command output: with --json, exactly one JSON document on stdout; otherwise a human rendering.
 * Progress and logs go to stderr so stdout stays safe to pipe.
 */
export function emit(json: boolean, data: unknown, human: () => string): void {
  process.stdout.write((json ? JSON.stringify(data, null, 2) : human()) + '\n');
}

export function table(rows: Record<string, unknown>[], columns: string[]): string {
  if (rows.length === 0) return '(none)';
  const cells = rows.map((row) => columns.map((column) => formatCell(row[column])));
  const widths = columns.map((column, i) => Math.max(column.length, ...cells.map((line) => line[i]!.length)));
  const line = (values: string[]) => values.map((value, i) => value.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(columns.map((c) => c.toUpperCase())), ...cells.map(line)].join('\n');
}

function formatCell(value: unknown): string {
  if (value === undefined || value === null) return '-';
  if (typeof value === 'object') {
    return Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(',');
  }
  return String(value);
}

/** Step progress for long work, on stderr: "[2/5] publishing ema@1.0.0". */
export function progress(total: number): (label: string) => void {
  let step = 0;
  return (label: string) => {
    step += 1;
    process.stderr.write(`[${step}/${total}] ${label}\n`);
  };
}
