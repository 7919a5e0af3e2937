/** Device: modules with limits, faults and quarantine reasons; spool and loss; history; live charts. */
import { useMemo } from 'preact/hooks';
import { api } from '../api.js';
import { Badge, LiveDot, Loading, Problem, Section, Tags } from '../components/bits.js';
import { Chart, type Series } from '../components/chart.js';
import { ago, bytes, count, short, time } from '../format.js';
import { useLiveData } from '../hooks.js';
import { ResultsFeed } from '../results-feed.js';
import { href } from '../router.js';
import type { DesiredModule, DeviceDetail, HistoryEntry, Limits, ReportedModule } from '../types.js';

const limitsText = (limits: Limits | undefined): string =>
  limits && Object.keys(limits).length > 0
    ? Object.entries(limits)
        .map(([k, v]) => `${k} ${String(v)}`)
        .join(', ')
    : 'profile defaults';

function ModulesTable({ desired, reported }: { desired: DesiredModule[]; reported: ReportedModule[] }) {
  const names = [...new Set([...desired.map((m) => m.name), ...reported.map((m) => m.name)])].sort();
  return (
    <table class="grid" data-testid="device-modules">
      <thead>
        <tr><th>module</th><th>desired</th><th>running</th><th>state</th><th>limits</th><th>batches</th><th>faults</th><th>reason / last fault</th></tr>
      </thead>
      <tbody>
        {names.map((name) => {
          const want = desired.find((m) => m.name === name);
          const have = reported.find((m) => m.name === name);
          return (
            <tr key={name} data-module={name} data-quarantined={have?.quarantined ? 'true' : undefined}>
              <td>{name}</td>
              <td>{want ? want.version : '—'}</td>
              <td>{have ? have.version : '—'}</td>
              <td>
                {have ? <Badge state={have.state} /> : <Badge state="pending" />}{' '}
                {have?.quarantined && (
                  <span data-testid="quarantine-badge" title={have.reason ?? ''}>
                    <Badge state="quarantined" />
                  </span>
                )}
              </td>
              <td class="small">{limitsText(want?.limits)}</td>
              <td class="num">{have ? count(have.batches) : '—'}</td>
              <td class={`num ${have && have.faults > 0 ? 'bad' : ''}`}>{have ? count(have.faults) : '—'}</td>
              <td class="small">{have?.reason ?? have?.lastFault ?? ''}</td>
            </tr>
          );
        })}
        {names.length === 0 && <tr><td colSpan={8} class="muted">No modules desired or running.</td></tr>}
      </tbody>
    </table>
  );
}

function Spool({ device }: { device: DeviceDetail }) {
  const spool = device.reported?.spool;
  if (!spool) return <p class="muted">The agent has not reported its spool yet.</p>;
  const lost = spool.droppedFull + spool.droppedAge + spool.torn + spool.lost;
  return (
    <dl class="facts" data-testid="device-spool">
      <dt>waiting for the API</dt><dd>{count(spool.pending)} results ({bytes(spool.bytes)})</dd>
      <dt>dropped: spool full</dt><dd>{count(spool.droppedFull)}</dd>
      <dt>dropped: too old</dt><dd>{count(spool.droppedAge)}</dd>
      <dt>torn records</dt><dd>{count(spool.torn)}</dd>
      <dt>write failures</dt><dd>{count(spool.writeFailures)}</dd>
      <dt>lost</dt><dd class={lost > 0 ? 'bad' : ''}>{count(spool.lost)}</dd>
      {spool.lastError && (<><dt>last error</dt><dd>{spool.lastError}</dd></>)}
    </dl>
  );
}

function LiveCharts({ id }: { id: string }) {
  const feed = useMemo(() => new ResultsFeed(id), [id]);
  const results = useLiveData<Series[]>(() => feed.refresh(), [feed], { stream: { device: id, kind: ['result'], sampleMs: 1000 }, pollMs: 2000 });
  if (results.error) return <Problem error={results.error} />;
  if (!results.data) return <Loading />;
  if (results.data.length === 0) return <p class="muted">No results in the last 10 minutes.</p>;
  const byModule = new Map<string, Series[]>();
  for (const s of results.data) {
    const module = s.label.slice(0, s.label.indexOf('.'));
    byModule.set(module, [...(byModule.get(module) ?? []), s]);
  }
  return (
    <div data-testid="device-charts">
      {[...byModule.entries()].map(([module, series]) => (
        <div key={module} class="chart-box" data-module={module}>
          <h3>{module}</h3>
          <Chart series={series} height={200} />
        </div>
      ))}
    </div>
  );
}

export function DevicePage({ id }: { id: string }) {
  const stream = { device: id, kind: ['device.online', 'device.offline', 'device.reported', 'rollout.device'] };
  const device = useLiveData(() => api<DeviceDetail>(`/devices/${encodeURIComponent(id)}`), [id], { stream, pollMs: 3000 });
  const history = useLiveData(
    () => api<{ deployments: HistoryEntry[] }>(`/devices/${encodeURIComponent(id)}/deployments`),
    [id],
    // Polled: the browser keeps few connections per server, and two streams serve this page.
    { pollMs: 5000 },
  );
  const d = device.data;
  return (
    <div>
      <p class="crumbs"><a href={href.fleet()}>Fleet</a> / {id}</p>
      <h1>
        {id} {d && <Badge state={d.online ? 'online' : 'offline'} />} {d?.quarantined && <Badge state="quarantined" />} <LiveDot live={device.live} />
      </h1>
      <Problem error={device.error} />
      {!d && !device.error && <Loading />}
      {d && (
        <>
          <Section title="Device">
            <dl class="facts">
              <dt>profile</dt><dd>{d.profile}</dd>
              <dt>tags</dt><dd><Tags tags={d.tags} /></dd>
              {d.hub !== undefined && (<><dt>hub</dt><dd data-testid="device-hub">{d.hub ?? 'direct (central broker)'}</dd></>)}
              <dt>last seen</dt><dd title={d.lastSeen ?? ''}>{ago(d.lastSeen)}</dd>
              <dt>revision</dt><dd>reported {d.reportedRevision} / desired {d.desiredRevision} {d.inSync ? <Badge state="applied" /> : <Badge state="pending" />}</dd>
              <dt>agent</dt><dd>{d.reported ? `${d.reported.agent.version} (${d.reported.agent.arch})` : '—'}</dd>
            </dl>
            {d.reported && d.reported.errors.length > 0 && (
              <ul class="problems">
                {d.reported.errors.map((e) => <li key={e.code}><code>{e.code}</code> {e.message}</li>)}
              </ul>
            )}
          </Section>
          <Section title="Modules">
            <ModulesTable desired={d.desired.modules} reported={d.reported?.modules ?? []} />
          </Section>
          <Section title="Live results">
            <LiveCharts id={id} />
          </Section>
          <div class="two">
            <Section title="Results spool and loss">
              <Spool device={d} />
            </Section>
            <Section title="Deployment history">
              <Problem error={history.error} />
              <table class="grid">
                <thead><tr><th>deployment</th><th>module</th><th>state</th><th>reason</th></tr></thead>
                <tbody>
                  {history.data?.deployments.map((h) => (
                    <tr key={h.deploymentId}>
                      <td><a href={href.deployment(h.deploymentId)}>{short(h.deploymentId, 16)}</a></td>
                      <td>{h.module}@{h.version}</td>
                      <td><Badge state={h.state} /></td>
                      <td class="small">{h.reason ?? ''} <span class="muted">{time(h.updatedAt as string)}</span></td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </Section>
          </div>
        </>
      )}
    </div>
  );
}
