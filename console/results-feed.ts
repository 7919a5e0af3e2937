/**
 * A device's recent results as chart series, kept up to date incrementally: the first read takes
 * the last `windowMs`, each later read only what came after the newest point held, following
 * cursors for at most a few pages. Old points fall out of the window.
 */
import { api, query } from './api.js';
import type { Series } from './components/chart.js';
import type { ResultPoint } from './types.js';

const MAX_PAGES = 5;

export class ResultsFeed {
  private readonly series = new Map<string, Array<{ t: number; value: number }>>();
  private newest: number | undefined;

  constructor(
    private readonly deviceId: string,
    private readonly windowMs = 10 * 60_000,
  ) {}

  /** Reads what is new; resolves to every series, sorted by label. */
  async refresh(): Promise<Series[]> {
    const from = this.newest === undefined ? Date.now() - this.windowMs : this.newest + 1;
    let cursor: string | undefined;
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const answer = await api<{ results: ResultPoint[]; nextCursor: string | null }>(
        `/devices/${encodeURIComponent(this.deviceId)}/results` + query({ kind: 'metric', from, limit: 1000, cursor }),
      );
      for (const point of answer.results) {
        const label = `${point.module}.${point.metric}`;
        let points = this.series.get(label);
        if (!points) this.series.set(label, (points = []));
        points.push({ t: point.t, value: point.value });
        if (this.newest === undefined || point.t > this.newest) this.newest = point.t;
      }
      if (!answer.nextCursor) break;
      cursor = answer.nextCursor;
    }
    const oldest = (this.newest ?? Date.now()) - this.windowMs;
    for (const [label, points] of this.series) {
      const keep = points.findIndex((p) => p.t >= oldest);
      this.series.set(label, keep <= 0 ? points.slice() : points.slice(keep));
    }
    return [...this.series.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([label, points]) => ({ label, points }));
  }
}
