/**
 * The hub's HubStatus upstream (wf/v1/hubs/{H}/status, retained [WF-P-T-10]): published when the
 * uplink comes up, whenever the site revision, connected devices or losses change, and while the
 * backlog moves at most once per statusIntervalMs. The same message with state offline is the
 * uplink's will, refreshed with every publish so the last known backlog travels with it.
 */
import { isoTime } from '../common/iso-time.js';
import type { Logger } from '../common/logger.js';
import type { UpstreamPort } from './ports.js';
import { PROTOCOL_VERSION } from '../protocol/version.js';
import { hubTopics, type HubStatus } from '../protocol/hubs.js';

export interface StatusSources {
  siteRevision(): number;
  devicesConnected(): number;
  backlog(): HubStatus['backlog'];
  lost(): Record<string, number>;
}

export interface StatusDeps {
  readonly hubId: string;
  readonly intervalMs: number;
  readonly sources: StatusSources;
  readonly upstream: Pick<UpstreamPort, 'connected' | 'publish'> & { setWill(payload: Buffer): void };
  readonly logger: Logger;
}

/** How often the publisher looks for a change; the interval bounds only backlog-only updates. */
const CHECK_MS = 250;
/** HubStatus allows 16 loss reasons; more are folded into one. */
const MAX_LOSS_REASONS = 15;

export function hubStatus(hubId: string, state: HubStatus['state'], sources: StatusSources): HubStatus {
  const lost = Object.entries(sources.lost());
  const kept = Object.fromEntries(lost.slice(0, MAX_LOSS_REASONS).map(([reason, count]) => [reason.slice(0, 40), count]));
  if (lost.length > MAX_LOSS_REASONS) kept.other = lost.slice(MAX_LOSS_REASONS).reduce((sum, [, count]) => sum + count, 0);
  return {
    v: PROTOCOL_VERSION,
    hubId,
    state,
    at: isoTime(),
    siteRevision: sources.siteRevision(),
    backlog: sources.backlog(),
    lost: kept,
    devicesConnected: sources.devicesConnected(),
  };
}

export class StatusPublisher {
  readonly #deps: StatusDeps;
  readonly #topic: string;
  #timer: NodeJS.Timeout | undefined;
  /** What was last published, without `at` and backlog: a change here publishes at once. */
  #lastKey = '';
  #lastBacklog = '';
  #lastAt = 0;
  #publishing = false;

  constructor(deps: StatusDeps) {
    this.#deps = deps;
    this.#topic = hubTopics.hub(deps.hubId, 'status');
  }

  get topic(): string {
    return this.#topic;
  }

  offline(): Buffer {
    return Buffer.from(JSON.stringify(hubStatus(this.#deps.hubId, 'offline', this.#deps.sources)));
  }

  start(): void {
    this.#timer ??= setInterval(() => void this.check(false), CHECK_MS);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Publishes if something changed (or always, when `force`); the uplink coming up forces one. */
  async check(force: boolean): Promise<void> {
    const { upstream, sources, hubId, intervalMs } = this.#deps;
    if (!upstream.connected || this.#publishing) return;
    const status = hubStatus(hubId, 'online', sources);
    const key = JSON.stringify([status.siteRevision, status.devicesConnected, status.lost]);
    const backlog = JSON.stringify(status.backlog);
    const due = force || key !== this.#lastKey || (backlog !== this.#lastBacklog && Date.now() - this.#lastAt >= intervalMs);
    if (!due) return;
    this.#publishing = true;
    try {
      await upstream.publish(this.#topic, Buffer.from(JSON.stringify(status)), true);
      this.#lastKey = key;
      this.#lastBacklog = backlog;
      this.#lastAt = Date.now();
      upstream.setWill(this.offline());
    } catch (error) {
      this.#deps.logger.debug('hub status not published', { reason: String(error) });
    } finally {
      this.#publishing = false;
    }
  }
}
