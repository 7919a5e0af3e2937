/** Deployments: the list, and one deployment's waves with live per-device state, reasons and controls. */
import { useState } from 'preact/hooks';
import { api, may } from '../api.js';
import { Badge, LiveDot, Loading, Problem, Section } from '../components/bits.js';
import { count, short, time } from '../format.js';
import { useLiveData } from '../hooks.js';
import { href } from '../router.js';
import { useSession } from '../session.js';
import type { DeploymentDetail, DeploymentSummary, DeviceState } from '../types.js';

const ROLLOUT_EVENTS = ['rollout.wave', 'rollout.device', 'rollout.status'];
const SHOWN_STATES: DeviceState[] = ['waiting', 'pending', 'applied', 'healthy', 'failed', 'unhealthy', 'timed-out', 'rolled-back', 'cancelled', 'superseded'];

/** Which controls a deployment in a status accepts (docs/rollouts.md); the server checks again. */
const CONTROLS: Record<string, ReadonlyArray<'pause' | 'resume' | 'cancel' | 'rollback'>> = {
  running: ['pause', 'cancel', 'rollback'],
  paused: ['resume', 'cancel', 'rollback'],
  completed: ['rollback'],
  aborted: ['rollback'],
  cancelled: ['rollback'],
};

function Progress({ counts, size }: { counts: Record<DeviceState, number>; size: number }) {
  const healthy = counts.healthy ?? 0;
  const applied = counts.applied ?? 0;
  const bad = (counts.failed ?? 0) + (counts.unhealthy ?? 0) + (counts['timed-out'] ?? 0) + (counts['rolled-back'] ?? 0);
  const pct = (n: number) => `${size === 0 ? 0 : (100 * n) / size}%`;
  return (
    <div class="bar" title={`${healthy} healthy, ${applied} applied (soaking), ${bad} failed of ${size}`}>
      <div class="bar-good" style={{ width: pct(healthy) }} />
      <div class="bar-applied" style={{ width: pct(applied) }} />
      <div class="bar-bad" style={{ width: pct(bad) }} />
    </div>
  );
}

export function DeploymentsPage() {
  const list = useLiveData(() => api<{ deployments: DeploymentSummary[] }>('/deployments'), [], { stream: { kind: ROLLOUT_EVENTS }, pollMs: 3000 });
  return (
    <div>
      <h1>Deployments <LiveDot live={list.live} /></h1>
      <Problem error={list.error} />
      {!list.data && !list.error && <Loading />}
      {list.data && (
        <Section title={`${list.data.deployments.length} deployments, newest first`}>
          <table class="grid" data-testid="deployments-table">
            <thead><tr><th>deployment</th><th>module</th><th>status</th><th>progress</th><th>created</th><th>reason</th></tr></thead>
            <tbody>
              {list.data.deployments.map((d) => {
                const size = Object.values(d.counts).reduce((a, b) => a + b, 0);
                return (
                  <tr key={d.id} data-deployment={d.id}>
                    <td><a href={href.deployment(d.id)}>{short(d.id, 20)}</a></td>
                    <td>{d.module}@{d.version}</td>
                    <td><Badge state={d.status} /></td>
                    <td><Progress counts={d.counts} size={size} /> <span class="small">{count(size)} devices</span></td>
                    <td class="small">{time(d.createdAt)}</td>
                    <td class="small">{d.statusReason ?? ''}</td>
                  </tr>
                );
              })}
              {list.data.deployments.length === 0 && <tr><td colSpan={6} class="muted">No deployments yet: <code>wasmfleet deploy NAME@VERSION --tag k=v</code>.</td></tr>}
            </tbody>
          </table>
        </Section>
      )}
    </div>
  );
}

function Controls({ deployment, onDone }: { deployment: DeploymentDetail; onDone: () => void }) {
  const { role } = useSession();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | undefined>(undefined);
  // Viewers are offered nothing: the controls are not rendered at all.
  if (!may(role, 'operator')) return null;
  const actions = CONTROLS[deployment.status] ?? [];
  const run = async (action: string) => {
    if ((action === 'cancel' || action === 'rollback') && !confirm(`${action} deployment ${deployment.id}?`)) return;
    setBusy(true);
    setError(undefined);
    try {
      await api(`/deployments/${encodeURIComponent(deployment.id)}/${action}`, { method: 'POST' });
      onDone();
    } catch (failure) {
      setError(failure as Error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <span class="controls" data-testid="deployment-controls">
      {actions.map((action) => (
        <button key={action} class={action === 'rollback' || action === 'cancel' ? 'danger' : ''} disabled={busy} onClick={() => void run(action)} data-action={action}>
          {action}
        </button>
      ))}
      <Problem error={error} />
    </span>
  );
}

export function DeploymentPage({ id }: { id: string }) {
  const detail = useLiveData(() => api<DeploymentDetail>(`/deployments/${encodeURIComponent(id)}`), [id], {
    stream: { deployment: id, kind: ROLLOUT_EVENTS },
    pollMs: 2000,
  });
  const [wave, setWave] = useState<number | 'all'>('all');
  const d = detail.data;
  return (
    <div>
      <p class="crumbs"><a href={href.deployments()}>Deployments</a> / {short(id, 24)}</p>
      <h1>
        {d ? `${d.module}@${d.version}` : id} {d && <span data-testid="deployment-status"><Badge state={d.status} /></span>} <LiveDot live={detail.live} />
      </h1>
      <Problem error={detail.error} />
      {!d && !detail.error && <Loading />}
      {d && (
        <>
          <Section title="Rollout" actions={<Controls deployment={d} onDone={detail.reload} />}>
            {d.statusReason && <p class="reason">{d.statusReason}</p>}
            <table class="grid" data-testid="waves">
              <thead>
                <tr><th>wave</th><th>size</th><th>state</th><th>progress</th>{SHOWN_STATES.map((s) => <th key={s} class="small">{s}</th>)}</tr>
              </thead>
              <tbody>
                {d.waves.map((w) => (
                  <tr key={w.index} data-wave={w.index} data-state={w.state} class={d.currentWave === w.index && d.status === 'running' ? 'current' : ''}>
                    <td><a href="javascript:void 0" onClick={() => setWave(w.index)}>{w.name}</a></td>
                    <td class="num">{count(w.size)}</td>
                    <td><Badge state={w.state} /></td>
                    <td><Progress counts={w.counts} size={w.size} /></td>
                    {SHOWN_STATES.map((s) => <td key={s} class="num small">{w.counts[s] || ''}</td>)}
                  </tr>
                ))}
              </tbody>
            </table>
          </Section>
          <Section
            title={wave === 'all' ? `Devices (${d.devices.length})` : `Devices in wave ${d.waves[wave]?.name ?? wave}`}
            actions={wave === 'all' ? undefined : <button onClick={() => setWave('all')}>all waves</button>}
          >
            <table class="grid" data-testid="deployment-devices">
              <thead><tr><th>device</th><th>wave</th><th>state</th><th>reason</th><th>previous</th><th>applied</th></tr></thead>
              <tbody>
                {d.devices
                  .filter((x) => wave === 'all' || x.wave === wave)
                  .map((x) => (
                    <tr key={x.id} data-device={x.id} data-state={x.state}>
                      <td><a href={href.device(x.id)}>{x.id}</a>{x.late ? <span class="muted"> (late)</span> : null}</td>
                      <td>{d.waves[x.wave]?.name ?? x.wave}</td>
                      <td><Badge state={x.state} /></td>
                      <td class="small">{x.reason ?? ''}</td>
                      <td class="small">{x.previous ?? '—'}</td>
                      <td class="small">{time(x.appliedAt)}</td>
                    </tr>
                  ))}
              </tbody>
            </table>
          </Section>
        </>
      )}
    </div>
  );
}
