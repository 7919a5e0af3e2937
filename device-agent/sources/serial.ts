/**
 * A line-based serial source: a tty (USB-serial adapter, UART), or any FIFO or file, read line
 * by line, each line one sample. Opened non-blocking so a missing peer never ties up a thread:
 * a tty becomes a raw-mode tty stream (no echo back to the device), a FIFO a pipe stream. When
 * the device is missing, closes or errors, the source reopens it after `reopenMs`. `baud` is set
 * with the system `stty` before opening. Bad and over-long lines are counted and ignored.
 */
import { closeSync, constants, createReadStream, fstatSync, openSync } from 'node:fs';
import { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { Logger } from '../../common/logger.js';
import type { SerialSource } from '../../firmware-profiles/index.js';
import { sourceErrors } from './errors.js';
import { LineSplitter, parseValue, transform } from './line-format.js';
import { SampleBuffer } from './sample-buffer.js';
import type { Source } from './source.js';

type Tty = typeof import('node:tty');

/** Opens `path` without blocking and wraps it in the stream kind its file type needs. */
function openLineStream(path: string, { isatty, ReadStream: TtyReadStream }: Tty): Readable {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  try {
    if (isatty(fd)) {
      const tty = new TtyReadStream(fd);
      tty.setRawMode(true);
      return tty;
    }
    const stat = fstatSync(fd);
    if (stat.isFIFO() || stat.isSocket()) return new Socket({ fd, readable: true, writable: false });
    return createReadStream('', { fd });
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

/** Async because node:tty and node:child_process (for stty) are loaded only by agents with a serial source. */
export async function createSerialSource(config: SerialSource, logger: Logger): Promise<Source> {
  const [tty, { spawnSync }] = await Promise.all([import('node:tty'), import('node:child_process')]);
  const buffer = new SampleBuffer(config.id, config.kind, config.maxBuffered ?? 8192, logger);
  const format = config.parse ?? { format: 'number' as const };
  const reopenMs = config.reopenMs ?? 2000;
  let stream: Readable | undefined;
  let reopenTimer: NodeJS.Timeout | undefined;
  let running = false;
  let lastProblem: string | undefined;

  const problem = (what: string, reason: string, field: string): void => {
    if (reason === lastProblem) return;
    lastProblem = reason;
    const error = sourceErrors.WF_SOURCE_UNAVAILABLE({ source: config.id, kind: config.kind, what, reason, retryMs: reopenMs, field });
    logger.warn('source unreadable', { source: config.id, code: error.code, reason: error.message });
  };

  const scheduleReopen = (): void => {
    if (!running || reopenTimer) return;
    reopenTimer = setTimeout(() => {
      reopenTimer = undefined;
      open();
    }, reopenMs);
    reopenTimer.unref?.();
  };

  const open = (): void => {
    if (!running || stream) return;
    if (config.baud !== undefined) {
      const stty = spawnSync('stty', ['-F', config.path, String(config.baud), 'raw', '-echo'], { encoding: 'utf8', timeout: 5000 });
      if (stty.error || stty.status !== 0) {
        problem(config.path, `stty could not set ${config.baud} baud: ${stty.error?.message ?? stty.stderr.trim()}`, 'baud');
        scheduleReopen();
        return;
      }
    }
    let opened: Readable;
    try {
      opened = openLineStream(config.path, tty);
    } catch (error) {
      problem(config.path, (error as Error).message, 'path');
      scheduleReopen();
      return;
    }
    stream = opened;
    const splitter = new LineSplitter(
      config.maxLineBytes ?? 1024,
      (line) => {
        const parsed = parseValue(line, format);
        if (parsed.ok) buffer.push(transform(parsed.value, config.scale, config.offset));
        else buffer.rejected(parsed.reason);
      },
      () => buffer.rejected(`line longer than maxLineBytes ${config.maxLineBytes ?? 1024}`),
    );
    const closed = (reason?: string): void => {
      if (stream !== opened) return;
      splitter.end();
      stream = undefined;
      opened.destroy();
      if (reason) problem(config.path, reason, 'path');
      scheduleReopen();
    };
    opened.on('data', (chunk: Buffer | string) => {
      lastProblem = undefined;
      splitter.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    });
    opened.on('end', () => closed());
    opened.on('error', (error) => closed(error.message));
    opened.on('close', () => closed());
  };

  return {
    id: config.id,
    kind: config.kind,
    rateHz: undefined,
    start() {
      running = true;
      buffer.start();
      open();
    },
    stop() {
      running = false;
      if (reopenTimer) clearTimeout(reopenTimer);
      reopenTimer = undefined;
      const current = stream;
      stream = undefined;
      current?.destroy();
      buffer.stop();
    },
    take: (_now, max) => buffer.take(max),
    skip: () => buffer.skip(),
    stats: () => buffer.stats(),
  };
}
