/**
 * The per-device result sequence [WF-P-T-5]. The API stores each (deviceId, seq) once, so a seq
 * reused after a restart would silently discard new results. Numbers are therefore reserved in
 * blocks: the end of the block is written to the state directory before any number in it is
 * handed out, and a restart continues from there. A crash wastes at most two blocks; never reuses.
 *
 * The next block is reserved ahead, off the event loop (`reserveAhead`: at start, and when half
 * the block is used), so take() does not wait for the disk. Only when no durable number is left
 * (a reservation failed, or is still on its way) does take() reserve synchronously, as it always
 * did. Either way the file on disk only ever grows: the background reservation renames its file
 * into place on the event loop, and not when a synchronous one got there first.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { syncDirectory, writeSynced } from './state/atomic-file.js';

export const SEQ_BLOCK = 10_000;
const FILE = 'result-seq.json';
const AHEAD_SUFFIX = '.ahead';

export class ResultSeq {
  private next: number;
  /** Numbers below this are covered by a reservation that is on disk (fsync'd file and directory). */
  private reservedUpTo: number;
  private readonly path: string;
  private readonly directory: string;
  private reserving: Promise<void> | undefined;

  constructor(stateDir: string) {
    mkdirSync(stateDir, { recursive: true });
    this.directory = stateDir;
    this.path = join(stateDir, FILE);
    this.next = readReserved(this.path);
    this.reservedUpTo = this.next;
    removeStaleReservations(stateDir);
  }

  /** The seq the next take() returns. */
  peek(): number {
    return this.next;
  }

  take(): number {
    if (this.next >= this.reservedUpTo) this.reserveNow();
    const seq = this.next++;
    if (this.reservedUpTo - this.next < SEQ_BLOCK / 2) this.reserveAhead();
    return seq;
  }

  /**
   * Reserves the next block in the background unless one is on its way. The agent calls it at
   * start, so the first result of a fresh device finds its number durable already. A failure is
   * left to take(), which then reserves synchronously and throws what the disk says.
   */
  reserveAhead(): void {
    if (this.reserving) return;
    this.reserving = this.reserveInBackground(this.reservedUpTo + SEQ_BLOCK).finally(() => {
      this.reserving = undefined;
    });
  }

  /** Resolves once no background reservation is on its way. */
  async idle(): Promise<void> {
    await this.reserving;
  }

  /** Synchronous on purpose: no number of the block may be handed out before it is durable. */
  private reserveNow(): void {
    // At least any target a background reservation may already have renamed into place.
    const upTo = this.next + SEQ_BLOCK;
    const temporary = `${this.path}.tmp`;
    // Written whole, fsync'd, then renamed and the directory fsync'd: after a power cut the
    // reservation is either the old one or the new one, never an empty or half-written file.
    const fd = openSync(temporary, 'w');
    try {
      writeSync(fd, JSON.stringify({ reservedUpTo: upTo }) + '\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, this.path);
    fsyncDirectorySync(this.directory);
    this.reservedUpTo = upTo;
  }

  /** The same discipline with the waits off the event loop; gives up quietly (take() still can reserve). */
  private async reserveInBackground(upTo: number): Promise<void> {
    const temporary = `${this.path}.${randomBytes(4).toString('hex')}${AHEAD_SUFFIX}`;
    let renamed = false;
    try {
      await writeSynced(temporary, JSON.stringify({ reservedUpTo: upTo }) + '\n');
      // A synchronous reservation since then wrote as much or more: renaming now would lower it.
      if (this.reservedUpTo >= upTo) return;
      // On the event loop, so no synchronous reservation can come between the check and the rename.
      renameSync(temporary, this.path);
      renamed = true;
      // As fsyncDirectorySync: a failed directory fsync leaves the rename as it stands.
      await syncDirectory(this.directory).catch(() => undefined);
      this.reservedUpTo = Math.max(this.reservedUpTo, upTo);
    } catch {
      // Not durable, so not used: take() reserves synchronously when it runs out.
    } finally {
      if (!renamed) await unlink(temporary).catch(() => undefined);
    }
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

function fsyncDirectorySync(dir: string): void {
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

/** Temporary files of background reservations a crash left behind: never read, so removed. */
function removeStaleReservations(stateDir: string): void {
  for (const name of readdirSync(stateDir)) {
    if (!name.startsWith(`${FILE}.`) || !name.endsWith(AHEAD_SUFFIX)) continue;
    try {
      unlinkSync(join(stateDir, name));
    } catch {
      // gone already
    }
  }
}
