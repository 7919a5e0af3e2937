/**
 * Reported states and statuses, written in one SQLite transaction per event-loop turn instead of
 * one each. With 10,000 devices heartbeating every 10 s and reporting through a rollout, a commit
 * per message was most of the API's SQLite time; a commit costs about what a whole turn's rows do.
 *
 * Messages are applied in arrival order within the turn (a device's later status or report wins,
 * as before); a status is one statement and a report its own savepoint, so one that SQLite
 * refuses is logged and dropped alone.
 * What follows a write (events, rollout nudges) runs after the commit, so nothing is announced
 * before it is in SQLite. A message waits at most until the next turn: `flush()` writes at once.
 */
import type { Logger } from '../common/logger.js';
import { reasonOf } from '../common/errors.js';
import type { DeviceStatus, ReportedState } from '../protocol/index.js';
import { recordReportedState } from './deployments/progress.js';
import type { Store } from './store/index.js';

type Report = { kind: 'reported'; state: ReportedState } | { kind: 'status'; status: DeviceStatus; at: string };

export interface ReportOutcomes {
  /**
   * After the commit, per reported state stored, with the state it replaced; `settling`: it moved
   * a rollout row so that a step can act now (deployments/progress.ts).
   */
  reported(state: ReportedState, previous: ReportedState | null, settling: boolean): void;
  /** After the commit, per status stored; `wasOnline` is the flag it replaced (undefined: not asked). */
  status(status: DeviceStatus, wasOnline: boolean | undefined): void;
  /** A message for a device that does not exist. */
  unknownDevice(): void;
}

export class ReportQueue {
  private queued: Report[] = [];
  private scheduled: NodeJS.Immediate | undefined;

  constructor(
    private readonly store: Store,
    private readonly outcomes: ReportOutcomes,
    private readonly logger: Logger,
    /** Whether status outcomes need the flag each replaced (a live event on change). */
    private readonly wantsPresenceChanges: boolean,
  ) {}

  reported(state: ReportedState): void {
    this.push({ kind: 'reported', state });
  }

  status(status: DeviceStatus, at: string): void {
    this.push({ kind: 'status', status, at });
  }

  get size(): number {
    return this.queued.length;
  }

  /** Writes what is queued now, in one transaction. */
  flush(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    if (this.queued.length === 0 || !this.store.open) return;
    const reports = this.queued;
    this.queued = [];
    const done: Array<() => void> = [];
    try {
      this.store.transaction(() => {
        for (const report of reports) {
          try {
            const after = this.write(report);
            if (after) done.push(after);
          } catch (error) {
            this.logger.error('ingestion failed', { deviceId: report.kind === 'reported' ? report.state.deviceId : report.status.deviceId, reason: reasonOf(error) });
          }
        }
      });
    } catch (error) {
      // The commit failed: nothing of this turn is stored. Statuses repeat with every heartbeat and
      // reports with every change, so they are dropped (as a failed single write was), loudly.
      this.logger.error('reported states and statuses not stored', { messages: reports.length, reason: reasonOf(error) });
      return;
    }
    for (const after of done) {
      try {
        after();
      } catch (error) {
        this.logger.error('report hook failed', { reason: reasonOf(error) });
      }
    }
  }

  private push(report: Report): void {
    this.queued.push(report);
    this.scheduled ??= setImmediate(() => this.flush());
  }

  /** One message's writes, inside the turn's transaction; returns what to do once it committed. */
  private write(report: Report): (() => void) | undefined {
    const { store, outcomes } = this;
    if (report.kind === 'status') {
      const { status, at } = report;
      const wasOnline = this.wantsPresenceChanges ? store.isOnline(status.deviceId) : undefined;
      if (!store.setPresence(status.deviceId, status.online, at)) {
        outcomes.unknownDevice();
        return undefined;
      }
      return () => outcomes.status(status, wasOnline);
    }
    const { state } = report;
    const previous = store.reportedStateOf(state.deviceId);
    if (previous === undefined) {
      outcomes.unknownDevice();
      return undefined;
    }
    const { settling } = recordReportedState(store, state);
    return () => outcomes.reported(state, previous, settling);
  }
}
