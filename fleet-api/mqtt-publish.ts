/**
 * The two things every publish of the fleet API's MQTT link shares: waiting for the broker's PUBACK
 * no longer than a bound, and running the sends to one topic strictly in order (so a re-sync racing
 * a new deployment can never leave an older desired state retained) while other topics proceed.
 */
import type { Writable } from 'node:stream';
import type { IClientPublishOptions, MqttClient } from 'mqtt';
import { reasonOf } from '../common/errors.js';
import type { Logger } from '../common/logger.js';

/**
 * How many times `timeoutMs` a PUBACK may take while the broker keeps sending: its connection is
 * alive and answering, our PUBACK queued behind what it sends us, but a broker that never answers
 * one publish must not hold its topic's queue for ever.
 */
export const BUSY_BROKER_TIMEOUT_FACTOR = 10;

/** When each client last received a packet from the broker (Date.now()). */
const lastHeard = new WeakMap<MqttClient, { at: number }>();

function heardOf(client: MqttClient): { at: number } {
  let heard = lastHeard.get(client);
  if (!heard) {
    const fresh = { at: Date.now() };
    client.on('packetreceive', () => (fresh.at = Date.now()));
    lastHeard.set(client, (heard = fresh));
  }
  return heard;
}

/**
 * Publishes with QoS 1 and resolves on the PUBACK; rejects on an error, after `timeoutMs` with
 * nothing heard from the broker for as long, or after BUSY_BROKER_TIMEOUT_FACTOR times `timeoutMs`
 * in any case. A busy broker writes us the fleet's messages and our PUBACKs in one ordered stream:
 * in a 10,000-device rollout on a starved machine thousands of desired states were confirmed after
 * the link's wait, while the broker was sending all along, and counted as failed although delivered.
 */
export async function publishConfirmed(
  client: MqttClient,
  topic: string,
  payload: Buffer,
  options: Pick<IClientPublishOptions, 'retain'>,
  timeoutMs: number,
  /** False once the wait must not outlast `timeoutMs` any more (the link is closing). */
  mayWaitLonger: () => boolean = () => true,
): Promise<void> {
  const heard = heardOf(client);
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.publishAsync(topic, payload, { qos: 1, ...options }),
      new Promise((_, reject) => {
        const check = () => {
          const now = Date.now();
          if (!mayWaitLonger() && now - started >= timeoutMs) return reject(new Error(`no puback within ${now - started} ms, the link closing`));
          const silent = now - Math.max(heard.at, started);
          if (silent >= timeoutMs) return reject(new Error(`no puback within ${now - started} ms, nothing heard from the broker for ${silent} ms`));
          const cap = timeoutMs * BUSY_BROKER_TIMEOUT_FACTOR;
          if (now - started >= cap) return reject(new Error(`no puback within ${now - started} ms while the broker kept sending`));
          timer = setTimeout(check, Math.min(timeoutMs - silent, cap - (now - started)));
        };
        timer = setTimeout(check, timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Keeps the link's own publishes from piling up in its socket: a publish waits, in order, while the
 * socket holds its highWaterMark unflushed, and each writer hands the turn on once it has written.
 * A rollout step hands the link every desired state it changed at once; mqtt.js wrote each to the
 * socket at once, so 10,000 signed desired states (12 MB) sat in the API's memory until the broker
 * read them (traced in rollout-10k: 300 KB and more queued while the broker read 64 KiB a batch),
 * each signed, its expiry counting, long before it left. Now each is built and signed as it goes.
 * (mqtt.js' own PUBACKs never wait for the socket: mqtt-packet reports every ack written.)
 */
class WriteGate {
  private readonly waiters: Array<() => void> = [];
  private closed = false;

  constructor(private readonly stream: Writable) {
    stream.on('drain', () => this.next());
    stream.once('close', () => {
      this.closed = true;
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  /**
   * undefined when the caller may write now (decided and written in one synchronous stretch, or
   * every caller of one turn of the event loop would pass before any had written), else a promise
   * of its turn. The caller calls next() once it has written.
   */
  turn(): Promise<void> | undefined {
    if (this.closed || (this.waiters.length === 0 && !this.stream.writableNeedDrain)) return undefined;
    return new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  next(): void {
    if (this.closed || !this.stream.writableNeedDrain) this.waiters.shift()?.();
  }
}

const gates = new WeakMap<Writable, WriteGate>();

/** The gate of the client's current connection (mqtt.js makes a new stream on each reconnect). */
function gateOf(client: MqttClient): WriteGate | undefined {
  const stream = (client as { stream?: Writable }).stream;
  if (!stream || typeof stream.writableNeedDrain !== 'boolean') return undefined;
  let gate = gates.get(stream);
  if (!gate) gates.set(stream, (gate = new WriteGate(stream)));
  return gate;
}

/** Runs tasks per topic in order; tasks on different topics run concurrently. */
export class TopicQueue {
  private readonly chains = new Map<string, Promise<unknown>>();

  run<T>(topic: string, task: () => Promise<T>): Promise<T> {
    const previous = this.chains.get(topic) ?? Promise.resolve();
    const next = previous.then(task, task);
    const settled = next.catch(() => undefined);
    this.chains.set(topic, settled);
    void settled.then(() => {
      if (this.chains.get(topic) === settled) this.chains.delete(topic);
    });
    return next;
  }

  /** Resolves once every task queued so far has settled. */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.chains.values()]);
  }
}

/** The link's client, once connect() has created it. */
export type ClientRef = () => MqttClient | undefined;

/** What the publishing parts of the link count. */
export interface PublishCounters {
  published: number;
  publishFailed: number;
  /** Publishes skipped while disconnected; the next (re)connect re-derives them. */
  deferred: number;
}

/** What a part of the link that publishes is given. */
export interface PublishDeps {
  readonly client: ClientRef;
  readonly queue: TopicQueue;
  readonly counters: PublishCounters;
  readonly publishTimeoutMs: number;
  readonly logger: Logger;
  /** True once the link is closing: a publish then waits no longer than publishTimeoutMs. */
  readonly closing?: () => boolean;
}

/**
 * One confirmed publish, in order on its topic. False, and counted as deferred, while the link is
 * down; false when `payload` (built at send time) has nothing to send; counted as published on the
 * PUBACK, or as failed and logged with `failure` on an error or timeout.
 */
export function sendInOrder(
  deps: PublishDeps,
  topic: string,
  payload: () => Buffer | undefined,
  options: Pick<IClientPublishOptions, 'retain'>,
  failure: { message: string; fields: Record<string, unknown> },
): Promise<boolean> {
  return deps.queue.run(topic, async () => {
    const client = deps.client();
    if (!client?.connected) {
      deps.counters.deferred += 1;
      return false;
    }
    const gate = gateOf(client);
    const wait = gate?.turn();
    if (wait) await wait;
    if (!client.connected) {
      gate?.next();
      deps.counters.deferred += 1;
      return false;
    }
    // Built (and signed) once the socket takes it: a desired state's expiry counts from its sending.
    let bytes: Buffer | undefined;
    try {
      bytes = payload();
    } finally {
      if (bytes === undefined) gate?.next();
    }
    if (bytes === undefined) return false;
    try {
      const closing = deps.closing;
      const confirmed = publishConfirmed(client, topic, bytes, options, deps.publishTimeoutMs, closing ? () => !closing() : undefined);
      // mqtt.js wrote the packet synchronously: the next writer may go if the socket has room.
      gate?.next();
      await confirmed;
      deps.counters.published += 1;
      return true;
    } catch (error) {
      deps.counters.publishFailed += 1;
      deps.logger.warn(failure.message, { ...failure.fields, reason: reasonOf(error) });
      return false;
    }
  });
}
