/** Small shared pieces: stat cards, state badges, error and loading lines, tag chips. */
import type { ComponentChildren } from 'preact';
import { count } from '../format.js';

export function Stat({ label, value, tone, testId }: { label: string; value: number; tone?: 'good' | 'bad' | 'warn'; testId?: string }) {
  return (
    <div class={`stat ${tone ?? ''}`} data-testid={testId}>
      <div class="stat-value">{count(value)}</div>
      <div class="stat-label">{label}</div>
    </div>
  );
}

const TONES: Record<string, string> = {
  running: 'good',
  healthy: 'good',
  applied: 'good',
  completed: 'good',
  online: 'good',
  done: 'good',
  failed: 'bad',
  quarantined: 'bad',
  unhealthy: 'bad',
  'timed-out': 'bad',
  aborted: 'bad',
  offline: 'muted',
  'rolled-back': 'warn',
  paused: 'warn',
  pending: 'info',
  'in progress': 'info',
  starting: 'info',
};

export const Badge = ({ state }: { state: string }) => <span class={`badge ${TONES[state] ?? 'muted'}`}>{state}</span>;

export const Tags = ({ tags }: { tags: Record<string, string> }) => (
  <span class="tags">
    {Object.entries(tags).map(([k, v]) => (
      <span class="tag" key={k}>
        {k}={v}
      </span>
    ))}
  </span>
);

export function Problem({ error }: { error: Error | undefined }) {
  if (!error) return null;
  return (
    <p class="problem" role="alert">
      {error.message}
    </p>
  );
}

export const Loading = () => <p class="muted">Loading…</p>;

export function Section({ title, children, actions }: { title: string; children: ComponentChildren; actions?: ComponentChildren }) {
  return (
    <section class="card">
      <header class="card-head">
        <h2>{title}</h2>
        {actions}
      </header>
      {children}
    </section>
  );
}

export const LiveDot = ({ live }: { live: boolean }) => (
  <span class={`live ${live ? 'on' : ''}`} title={live ? 'live: event stream connected' : 'refreshing every few seconds'}>
    {live ? 'live' : 'polling'}
  </span>
);
