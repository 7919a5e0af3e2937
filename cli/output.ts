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

/**
 * A progress bar on stderr for counted work: redrawn in place on a terminal, one line per tenth
 * otherwise (logs and CI stay readable). `done()` ends the line.
 */
export function progressBar(total: number, label: string, stream: NodeJS.WriteStream = process.stderr): { update(count: number): void; done(): void } {
  const tty = stream.isTTY === true;
  let lastTenth = -1;
  const draw = (count: number) => {
    const width = 30;
    const filled = total === 0 ? width : Math.round((count / total) * width);
    return `${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${count}/${total}`;
  };
  return {
    update(count) {
      if (tty) {
        stream.write(`\r${draw(count)}`);
        return;
      }
      const tenth = total === 0 ? 10 : Math.floor((count / total) * 10);
      if (tenth !== lastTenth) {
        lastTenth = tenth;
        stream.write(`${draw(count)}\n`);
      }
    },
    done() {
      if (tty) stream.write('\n');
    },
  };
}
