/**
 * The two things every publish of the fleet API's MQTT link shares: waiting for the broker's PUBACK
 * no longer than a bound, and running the sends to one topic strictly in order (so a re-sync racing
 * a new deployment can never leave an older desired state retained) while other topics proceed.
 */
import type { IClientPublishOptions, MqttClient } from 'mqtt';
import { reasonOf } from '../common/errors.js';
import type { Logger } from '../common/logger.js';

/** Publishes with QoS 1 and resolves on the PUBACK; rejects on an error or after `timeoutMs`. */
export async function publishConfirmed(
  client: MqttClient,
  topic: string,
  payload: Buffer,
  options: Pick<IClientPublishOptions, 'retain'>,
  timeoutMs: number,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.publishAsync(topic, payload, { qos: 1, ...options }),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no puback within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
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
    const bytes = payload();
    if (bytes === undefined) return false;
    try {
      await publishConfirmed(client, topic, bytes, options, deps.publishTimeoutMs);
      deps.counters.published += 1;
      return true;
    } catch (error) {
      deps.counters.publishFailed += 1;
      deps.logger.warn(failure.message, { ...failure.fields, reason: reasonOf(error) });
      return false;
    }
  });
}
