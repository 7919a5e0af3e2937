/** Fleet: counts (online, offline, out of sync, faulted, quarantined) by profile, tag and hub; the devices table. */
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { Badge, Problem, Section, Stat, Tags } from '../components/bits.js';
import { fetchDevices, type DeviceQuery, type SortKey, type StatusFilter } from '../devices-source.js';
import { ago, count } from '../format.js';
import { useDebounced, useLiveData } from '../hooks.js';
import { href } from '../router.js';
import type { FleetCounts, FleetSummary, HubCounts } from '../types.js';

const PAGE_SIZE = 50;
// Polled, not streamed: in a large fleet presence events never stop, and a fresh count every few
// seconds is what a person reads anyway.
const REFRESH_MS = 5000;
const SEARCH_DEBOUNCE_MS = 50;

function CountsRow({ label, counts }: { label: string; counts: FleetCounts }) {
  return (
    <tr>
      <td>{label}</td>
      <td class="num">{count(counts.total)}</td>
      <td class="num">{count(counts.online)}</td>
      <td class="num">{count(counts.offline)}</td>
      <td class="num">{count(counts.outOfSync)}</td>
      <td class={`num ${counts.faulted > 0 ? 'bad' : ''}`}>{count(counts.faulted)}</td>
    </tr>
  );
}

function HubCountsRow({ counts }: { counts: HubCounts }) {
  return (
    <tr data-hub={counts.hub}>
      <td>{counts.hub}</td>
      <td class="num">{count(counts.total)}</td>
      <td class="num">{count(counts.online)}</td>
      <td class="num">{count(counts.offline)}</td>
      <td class="num">{count(counts.outOfSync)}</td>
      <td class={`num ${counts.faulted > 0 ? 'bad' : ''}`}>{count(counts.faulted)}</td>
      <td class={`num ${counts.quarantined > 0 ? 'bad' : ''}`}>{count(counts.quarantined)}</td>
    </tr>
  );
}

/** Only where hubs exist (docs/federation.md): the devices behind each hub itself. */
function ByHub({ hubs }: { hubs: HubCounts[] }) {
  return (
    <Section title="By hub">
      <table class="grid" data-testid="counts-by-hub">
        <thead>
          <tr><th>hub</th><th>devices</th><th>online</th><th>offline</th><th>out of sync</th><th>faulted</th><th>quarantined</th></tr>
        </thead>
        <tbody>
          {hubs.map((h) => <HubCountsRow key={h.hub} counts={h} />)}
        </tbody>
      </table>
    </Section>
  );
}

function Breakdown({ summary }: { summary: FleetSummary }) {
  return (
    <div class="two">
      <Section title="By profile">
        <table class="grid">
          <thead>
            <tr><th>profile</th><th>devices</th><th>online</th><th>offline</th><th>out of sync</th><th>faulted</th></tr>
          </thead>
          <tbody>
            {summary.byProfile.map((p) => <CountsRow key={p.profile} label={p.profile} counts={p} />)}
          </tbody>
        </table>
      </Section>
      <Section title={`By tag${summary.tagPairs > summary.byTag.length ? ` (top ${summary.byTag.length} of ${summary.tagPairs})` : ''}`}>
        <table class="grid">
          <thead>
            <tr><th>tag</th><th>devices</th><th>online</th><th>offline</th><th>out of sync</th><th>faulted</th></tr>
          </thead>
          <tbody>
            {summary.byTag.map((t) => <CountsRow key={`${t.key}=${t.value}`} label={`${t.key}=${t.value}`} counts={t} />)}
          </tbody>
        </table>
      </Section>
    </div>
  );
}

export function FleetPage() {
  const summary = useLiveData(() => api<FleetSummary>('/fleet/summary'), [], { pollMs: REFRESH_MS });
  const [search, setSearch] = useState('');
  const [status, setStatus] = useState<StatusFilter>('');
  const [profile, setProfile] = useState('');
  const [tag, setTag] = useState('');
  const [hub, setHub] = useState('');
  const [sort, setSort] = useState<{ key: SortKey; order: 'asc' | 'desc' }>({ key: 'id', order: 'asc' });
  // Cursors of the pages before this one, so "previous" works with a forward-only cursor.
  const [cursors, setCursors] = useState<Array<string | undefined>>([undefined]);
  // Short: an id-prefix page is an index seek on the server, so a request per pause in typing is cheap.
  const idPrefix = useDebounced(search.trim(), SEARCH_DEBOUNCE_MS);
  const filterKey = [idPrefix, status, profile, tag, hub, sort.key, sort.order].join('|');
  const [lastFilter, setLastFilter] = useState(filterKey);
  if (lastFilter !== filterKey) {
    setLastFilter(filterKey);
    setCursors([undefined]);
  }
  const cursor = cursors[cursors.length - 1];
  const q: DeviceQuery = { idPrefix, status, profile, tag, hub, sort: sort.key, order: sort.order, limit: PAGE_SIZE, cursor };
  const devices = useLiveData(() => fetchDevices(q), [filterKey, cursor], { pollMs: REFRESH_MS });

  const s = summary.data;
  const sortBy = (key: SortKey) => setSort((prev) => ({ key, order: prev.key === key && prev.order === 'asc' ? 'desc' : 'asc' }));
  const arrow = (key: SortKey) => (sort.key === key ? (sort.order === 'asc' ? ' ▲' : ' ▼') : '');
  return (
    <div>
      <h1>Fleet</h1>
      <Problem error={summary.error} />
      {s && (
        <div class="stats" data-testid="fleet-counts">
          <Stat label="devices" value={s.total} testId="count-total" />
          <Stat label="online" value={s.online} tone="good" testId="count-online" />
          <Stat label="offline" value={s.offline} testId="count-offline" />
          <Stat label="out of sync" value={s.outOfSync} tone={s.outOfSync > 0 ? 'warn' : undefined} testId="count-out-of-sync" />
          <Stat label="faulted" value={s.faulted} tone={s.faulted > 0 ? 'bad' : undefined} testId="count-faulted" />
          {s.quarantined !== undefined && <Stat label="quarantined" value={s.quarantined} tone={s.quarantined > 0 ? 'bad' : undefined} testId="count-quarantined" />}
        </div>
      )}
      {s && <Breakdown summary={s} />}
      {s?.byHub && s.byHub.length > 0 && <ByHub hubs={s.byHub} />}
      <Section title="Devices">
        <div class="filters">
          <input type="search" placeholder="device id starts with…" value={search} onInput={(e) => setSearch(e.currentTarget.value)} aria-label="search devices" data-testid="device-search" />
          <select value={status} onChange={(e) => setStatus(e.currentTarget.value as StatusFilter)} aria-label="status">
            <option value="">any status</option>
            <option value="online">online</option>
            <option value="offline">offline</option>
            <option value="out-of-sync">out of sync</option>
            <option value="faulted">faulted</option>
            {s?.quarantined !== undefined && <option value="quarantined">quarantined</option>}
          </select>
          <select value={profile} onChange={(e) => setProfile(e.currentTarget.value)} aria-label="profile">
            <option value="">any profile</option>
            {s?.byProfile.map((p) => <option key={p.profile} value={p.profile}>{p.profile}</option>)}
          </select>
          <select value={tag} onChange={(e) => setTag(e.currentTarget.value)} aria-label="tag">
            <option value="">any tag</option>
            {s?.byTag.map((t) => <option key={`${t.key}=${t.value}`} value={`${t.key}=${t.value}`}>{t.key}={t.value}</option>)}
          </select>
          {s?.byHub && s.byHub.length > 0 && (
            <select value={hub} onChange={(e) => setHub(e.currentTarget.value)} aria-label="hub" data-testid="hub-filter">
              <option value="">any hub</option>
              {s.byHub.map((h) => <option key={h.hub} value={h.hub}>{h.hub}</option>)}
            </select>
          )}
        </div>
        <Problem error={devices.error} />
        <table class="grid devices" data-testid="devices-table" data-loading={devices.data ? 'false' : 'true'} data-server-side={String(devices.data?.serverSide ?? '')}>
          <thead>
            <tr>
              <th class="sortable" onClick={() => sortBy('id')}>device{arrow('id')}</th>
              <th>profile</th>
              <th>tags</th>
              <th>hub</th>
              <th>status</th>
              <th>revision (reported / desired)</th>
              <th class="sortable" onClick={() => sortBy('lastSeen')}>last seen{arrow('lastSeen')}</th>
              <th class="sortable" onClick={() => sortBy('createdAt')}>provisioned{arrow('createdAt')}</th>
            </tr>
          </thead>
          <tbody>
            {devices.data?.devices.map((d) => (
              <tr key={d.id} data-device={d.id}>
                <td><a href={href.device(d.id)}>{d.id}</a></td>
                <td>{d.profile}</td>
                <td><Tags tags={d.tags} /></td>
                <td class={d.hub ? '' : 'muted'} data-col="hub">{d.hub ?? (d.hub === null ? 'direct' : '')}</td>
                <td>
                  <Badge state={d.online ? 'online' : 'offline'} /> {d.quarantined ? <Badge state="quarantined" /> : d.faulted ? <Badge state="failed" /> : null}
                </td>
                <td>
                  {d.reportedRevision} / {d.desiredRevision} {d.inSync ? null : <Badge state="pending" />}
                </td>
                <td title={d.lastSeen ?? ''}>{ago(d.lastSeen)}</td>
                <td class="small" title={d.createdAt}>{ago(d.createdAt)}</td>
              </tr>
            ))}
            {devices.data && devices.data.devices.length === 0 && (
              <tr><td colSpan={8} class="muted">No device matches.</td></tr>
            )}
          </tbody>
        </table>
        <div class="pager">
          <button disabled={cursors.length <= 1} onClick={() => setCursors((c) => c.slice(0, -1))}>← previous</button>
          <span class="muted">page {cursors.length}</span>
          <button disabled={!devices.data?.nextCursor} onClick={() => setCursors((c) => [...c, devices.data!.nextCursor!])}>next →</button>
        </div>
      </Section>
    </div>
  );
}
