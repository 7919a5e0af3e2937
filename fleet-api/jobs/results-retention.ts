/** Keeps the results table bounded in age and in rows, so ingestion never fills the disk. */
import type { Store } from '../store/index.js';

export function resultsRetention(
  store: Store,
  limits: { days: number; maxRows: number },
  now: () => number = Date.now,
): { expiredRows: number; expiredBatches: number; trimmedRows: number } {
  const expired = store.deleteResultsBefore(now() - limits.days * 86_400_000);
  const trimmedRows = store.trimResults(limits.maxRows);
  return { expiredRows: expired.rows, expiredBatches: expired.batches, trimmedRows };
}
