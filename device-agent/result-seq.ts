/**
 * The per-device result sequence [WF-P-T-5]. The API stores each (deviceId, seq) once, so a seq
 * reused after a restart would silently discard new results. Numbers are therefore reserved in
 * blocks: the end of the block is written to the state directory before any number in it is
 * handed out, and a restart continues from there. A crash wastes at most one block; never reuses.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const SEQ_BLOCK = 10_000;
const FILE = 'result-seq.json';

export class ResultSeq {
  private next: number;
  private reservedUpTo: number;
  private readonly path: string;

  constructor(stateDir: string) {
    mkdirSync(stateDir, { recursive: true });
    this.path = join(stateDir, FILE);
    this.next = readReserved(this.path);
    this.reservedUpTo = this.next;
  }

  take(): number {
    if (this.next >= this.reservedUpTo) this.reserve();
    return this.next++;
  }

  private reserve(): void {
    const upTo = this.next + SEQ_BLOCK;
    const temporary = `${this.path}.tmp`;
    // Written whole then renamed, so a crash mid-write leaves the previous reservation intact.
    writeFileSync(temporary, JSON.stringify({ reservedUpTo: upTo }) + '\n');
    renameSync(temporary, this.path);
    this.reservedUpTo = upTo;
  }
}

function readReserved(path: string): number {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return 0;
  }
  const value = (JSON.parse(text) as { reservedUpTo?: unknown }).reservedUpTo;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new Error(`${path}: reservedUpTo must be a non-negative integer`);
  }
  return value;
}
