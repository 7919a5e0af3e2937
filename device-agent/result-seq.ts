/**
 * The per-device result sequence [WF-P-T-5]. The API stores each (deviceId, seq) once, so a seq
 * reused after a restart would silently discard new results. Numbers are therefore reserved in
 * blocks: the end of the block is written to the state directory before any number in it is
 * handed out, and a restart continues from there. A crash wastes at most one block; never reuses.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export const SEQ_BLOCK = 10_000;
const FILE = 'result-seq.json';

export class ResultSeq {
  private next: number;
  private reservedUpTo: number;
  private readonly path: string;
  private readonly directory: string;

  constructor(stateDir: string) {
    mkdirSync(stateDir, { recursive: true });
    this.directory = stateDir;
    this.path = join(stateDir, FILE);
    this.next = readReserved(this.path);
    this.reservedUpTo = this.next;
  }

  /** The seq the next take() returns. */
  peek(): number {
    return this.next;
  }

  take(): number {
    if (this.next >= this.reservedUpTo) this.reserve();
    return this.next++;
  }

  private reserve(): void {
    const upTo = this.next + SEQ_BLOCK;
    const temporary = `${this.path}.tmp`;
    // Written whole, fsync'd, then renamed and the directory fsync'd: after a power cut the
    // reservation is either the old one or the new one, never an empty or half-written file.
    // Synchronous on purpose: no number of the block may be handed out before it is durable.
    const fd = openSync(temporary, 'w');
    try {
      writeSync(fd, JSON.stringify({ reservedUpTo: upTo }) + '\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, this.path);
    fsyncDirectory(this.directory);
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

function fsyncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // EINVAL/EISDIR: some filesystems (tmpfs, FUSE) cannot fsync a directory; the rename stands.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
