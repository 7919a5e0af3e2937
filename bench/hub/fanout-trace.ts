/**
 * Where the time of one hub-fanout rollout goes (WF_BENCH_HUB_TRACE=1): per device, the moments
 * of each phase since the POST, from what the parts record anyway (no probe in the path):
 *
 * - `published`: the API published the signed desired state (deployment_devices.published_at);
 * - `desired at hub` / `desired served`: the hub got it from upstream / had it durable and on the
 *   site broker (hub log 'desired state relayed', its heldMs);
 * - `module served`: the hub had the module durable and on the site broker (first 'module
 *   relayed' of the device's hub);
 * - `running at hub`: the device's first reported state naming the module running reached the hub
 *   (hub debug log 'relayed up': time − pubackMs − queuedMs); the agent's fetch, verification and
 *   start lie between `max(desired served, module served)` and this;
 * - `acked upstream`: the central broker's PUBACK for it;
 * - `applied`: the API recorded the device applied (deployment_devices.applied_at).
 *
 * The direct arm has only `published` and `applied`. Printed to stderr as a table of the median,
 * p90 and last device per phase; the caller keeps the figures for the docs.
 */
import Database from 'better-sqlite3';

interface HubLine {
  readonly time: string;
  readonly msg: string;
  readonly deviceId?: string;
  readonly topic?: string;
  readonly heldMs?: number;
  readonly queuedMs?: number;
  readonly pubackMs?: number;
  readonly running?: number | null;
}

type Phase =
  | 'published'
  | 'desired at hub'
  | 'desired served'
  | 'module served'
  | 'running at hub'
  | 'acked upstream'
  | 'applied'
  | 'Δ agent'
  | 'Δ hub → central'
  | 'Δ central';
/** Moments since the POST, then per-device durations: served → running at hub, running at hub → acked, acked → applied. */
const PHASES: Phase[] = ['published', 'desired at hub', 'desired served', 'module served', 'running at hub', 'acked upstream', 'applied', 'Δ agent', 'Δ hub → central', 'Δ central'];

export class FanoutTrace {
  #postAt = 0;
  readonly #hubOf = new Map<string, string>();
  readonly #lines: { hubId: string; line: HubLine }[] = [];

  /** A log-line sink for hub `hubId` (HubProcess.start's onLogLine); warnings and errors still reach stderr. */
  hubLines(hubId: string): (line: string) => void {
    return (raw) => {
      let line: HubLine;
      try {
        line = JSON.parse(raw) as HubLine;
      } catch {
        process.stderr.write(raw + '\n');
        return;
      }
      if (line.msg === 'desired state relayed' || line.msg === 'module relayed' || line.msg === 'relayed up') this.#lines.push({ hubId, line });
      else if ((line as { level?: string }).level === 'warn' || (line as { level?: string }).level === 'error') process.stderr.write(raw + '\n');
    };
  }

  deviceBehind(deviceId: string, hubId: string): void {
    this.#hubOf.set(deviceId, hubId);
  }

  posted(): void {
    this.#postAt = Date.now();
  }

  /** Seconds since the POST per phase and device, the hub phases only for devices behind a hub. */
  phases(dbPath: string, deploymentId: string): Map<Phase, number[]> {
    const since = (ms: number) => (ms - this.#postAt) / 1000;
    const at = (iso: string) => since(Date.parse(iso));
    const out = new Map<Phase, number[]>(PHASES.map((phase) => [phase, []]));
    const db = new Database(dbPath, { readonly: true, fileMustExist: true });
    const rows = db.prepare('SELECT device_id AS deviceId, published_at AS publishedAt, applied_at AS appliedAt FROM deployment_devices WHERE deployment_id = ?').all(deploymentId) as {
      deviceId: string;
      publishedAt: number | null;
      appliedAt: number | null;
    }[];
    db.close();
    const moduleServed = new Map<string, number>();
    const desired = new Map<string, { arrived: number; served: number }>();
    const running = new Map<string, { arrived: number; acked: number }>();
    for (const { hubId, line } of this.#lines) {
      const t = at(line.time);
      if (t < 0) continue;
      if (line.msg === 'module relayed' && !moduleServed.has(hubId)) moduleServed.set(hubId, t);
      if (line.msg === 'desired state relayed' && line.deviceId && !desired.has(line.deviceId)) desired.set(line.deviceId, { arrived: t - (line.heldMs ?? 0) / 1000, served: t });
      if (line.msg === 'relayed up' && line.topic?.endsWith('/reported') && (line.running ?? 0) > 0) {
        const deviceId = line.topic.split('/')[3]!;
        if (!running.has(deviceId)) running.set(deviceId, { arrived: t - ((line.pubackMs ?? 0) + (line.queuedMs ?? 0)) / 1000, acked: t });
      }
    }
    for (const row of rows) {
      if (row.publishedAt !== null) out.get('published')!.push(since(row.publishedAt));
      if (row.appliedAt !== null) out.get('applied')!.push(since(row.appliedAt));
      const hubId = this.#hubOf.get(row.deviceId);
      if (hubId === undefined) continue;
      const d = desired.get(row.deviceId);
      if (d) out.get('desired at hub')!.push(d.arrived), out.get('desired served')!.push(d.served);
      const m = moduleServed.get(hubId);
      if (m !== undefined) out.get('module served')!.push(m);
      const r = running.get(row.deviceId);
      if (r) out.get('running at hub')!.push(r.arrived), out.get('acked upstream')!.push(r.acked);
      if (r && d && m !== undefined) out.get('Δ agent')!.push(r.arrived - Math.max(d.served, m));
      if (r) out.get('Δ hub → central')!.push(r.acked - r.arrived);
      if (r && row.appliedAt !== null) out.get('Δ central')!.push(since(row.appliedAt) - r.acked);
    }
    return out;
  }

  /** The table: phase, devices seen, median, p90, last (s since the POST). */
  report(label: string, dbPath: string, deploymentId: string, appliedMs: number): string {
    const rows = [...this.phases(dbPath, deploymentId)].filter(([, values]) => values.length > 0);
    const pct = (values: number[], q: number) => {
      const sorted = [...values].sort((a, b) => a - b);
      return sorted[Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1)))]!.toFixed(2);
    };
    const lines = [`${label}: POST → all applied ${(appliedMs / 1000).toFixed(2)} s; seconds since the POST (median / p90 / last device)`];
    for (const [phase, values] of rows) lines.push(`  ${phase.padEnd(16)} n=${String(values.length).padStart(4)}  ${pct(values, 0.5)} / ${pct(values, 0.9)} / ${pct(values, 1)}`);
    return lines.join('\n');
  }
}
