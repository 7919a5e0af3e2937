/**
 * A source sampled by polling a reading (sysfs files) at a fixed rate. The reading is located
 * once (`locate`), then read every period; a failure logs one clear error, counts, and locates
 * again on the next tick, so a sensor that appears later (module loaded, overlay applied) is
 * picked up without a restart. A slow read skips ticks instead of piling up.
 */
import { reasonOf } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { SampleBuffer } from './sample-buffer.js';
import type { Source } from './source.js';

/** Reads one sample; throws when the sensor cannot be read. */
export type Reading = () => Promise<number>;

export interface PolledOptions {
  readonly id: string;
  readonly kind: string;
  readonly rateHz: number;
  readonly logger: Logger;
  /** Finds the sensor; throws a WF_SOURCE_* error naming what is missing. */
  readonly locate: () => Promise<Reading>;
}

/** A poll buffers at most this many seconds of samples (or 16), like a push source's bound. */
const BUFFER_SECONDS = 60;

export function createPolledSource(options: PolledOptions): Source {
  const { id, kind, rateHz, logger } = options;
  const buffer = new SampleBuffer(id, kind, Math.max(16, Math.ceil(rateHz * BUFFER_SECONDS)), logger);
  let timer: NodeJS.Timeout | undefined;
  let reading: Reading | undefined;
  let busy = false;
  let lastProblem: string | undefined;

  const poll = async (): Promise<void> => {
    if (busy) return;
    busy = true;
    try {
      reading ??= await options.locate();
      const value = await reading();
      if (!Number.isFinite(value)) throw new Error(`read ${value}, not a finite number`);
      buffer.push(value);
      if (lastProblem !== undefined) logger.info('source readable again', { source: id, kind });
      lastProblem = undefined;
    } catch (error) {
      reading = undefined;
      const reason = reasonOf(error);
      buffer.rejected(reason);
      if (reason !== lastProblem) {
        logger.warn('source unreadable', { source: id, kind, code: (error as { code?: string }).code, reason });
        lastProblem = reason;
      }
    } finally {
      busy = false;
    }
  };

  return {
    id,
    kind,
    rateHz,
    start() {
      buffer.start();
      timer ??= setInterval(() => void poll(), Math.max(1, Math.round(1000 / rateHz)));
      timer.unref?.();
      void poll();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      reading = undefined;
      buffer.stop();
    },
    take: (_now, max) => buffer.take(max),
    skip: () => buffer.skip(),
    stats: () => buffer.stats(),
  };
}
