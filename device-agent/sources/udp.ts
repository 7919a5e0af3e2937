/**
 * Text lines over UDP (node:dgram), e.g. from microcontrollers or PLCs on the gateway's LAN:
 * every line of every datagram is one sample. A datagram is read as a whole, so a line cannot
 * span two; over-long and unreadable lines are counted and ignored. A port that cannot be bound
 * is logged and retried.
 */
import type { Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { Logger } from '../../common/logger.js';
import { NETWORK_DEFAULTS } from '../../common/network-defaults.js';
import type { UdpSource } from '../../firmware-profiles/index.js';
import { sourceErrors } from './errors.js';
import { parseValue, transform } from './line-format.js';
import { SampleBuffer } from './sample-buffer.js';
import type { Source, SourceStats } from './source.js';

const REBIND_MS = 5000;

export interface UdpSourceHandle extends Source {
  /** The bound port (useful with `port: 0`); undefined until bound. */
  boundPort(): number | undefined;
  stats(): SourceStats;
}

/** Async because node:dgram is loaded only by agents whose profile has a UDP source. */
export async function createUdpSource(config: UdpSource, logger: Logger): Promise<UdpSourceHandle> {
  const { createSocket } = await import('node:dgram');
  const buffer = new SampleBuffer(config.id, config.kind, config.maxBuffered ?? 8192, logger);
  const format = config.parse ?? { format: 'number' as const };
  const maxLine = config.maxLineBytes ?? 1024;
  const host = config.host ?? NETWORK_DEFAULTS.host;
  let socket: Socket | undefined;
  let bound: number | undefined;
  let rebindTimer: NodeJS.Timeout | undefined;
  let running = false;

  const onDatagram = (message: Buffer): void => {
    for (const line of message.toString('utf8').split('\n')) {
      if (line.trim() === '') continue;
      if (Buffer.byteLength(line) > maxLine) {
        buffer.rejected(`line longer than maxLineBytes ${maxLine}`);
        continue;
      }
      const parsed = parseValue(line, format);
      if (parsed.ok) buffer.push(transform(parsed.value, config.scale, config.offset));
      else buffer.rejected(parsed.reason);
    }
  };

  const bind = (): void => {
    if (!running || socket) return;
    const current = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
    socket = current;
    current.on('message', onDatagram);
    current.on('error', (error) => {
      const failure = sourceErrors.WF_SOURCE_UNAVAILABLE({ source: config.id, kind: config.kind, what: `udp ${host}:${config.port}`, reason: error.message, retryMs: REBIND_MS, field: 'port' });
      logger.warn('source unreadable', { source: config.id, code: failure.code, reason: failure.message });
      current.close();
      if (socket === current) socket = undefined;
      bound = undefined;
      if (running && !rebindTimer) {
        rebindTimer = setTimeout(() => {
          rebindTimer = undefined;
          bind();
        }, REBIND_MS);
        rebindTimer.unref?.();
      }
    });
    current.bind(config.port, host, () => {
      bound = current.address().port;
      logger.info('source listening', { source: config.id, kind: config.kind, host, port: bound });
    });
  };

  return {
    id: config.id,
    kind: config.kind,
    rateHz: undefined,
    boundPort: () => bound,
    start() {
      running = true;
      buffer.start();
      bind();
    },
    stop() {
      running = false;
      if (rebindTimer) clearTimeout(rebindTimer);
      rebindTimer = undefined;
      try {
        socket?.close();
      } catch {
        // Already closed after an error.
      }
      socket = undefined;
      bound = undefined;
      buffer.stop();
    },
    take: (_now, max) => buffer.take(max),
    skip: () => buffer.skip(),
    stats: () => buffer.stats(),
  };
}
