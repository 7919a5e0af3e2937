/**
 * Analytics: a module metric aggregated across the devices of a tag selection, charted and kept
 * live (`GET /api/v1/results/aggregate`, docs/api.md).
 */
import { useMemo, useState } from 'preact/hooks';
import { api, query } from '../api.js';
import { LiveDot, Loading, Problem, Section } from '../components/bits.js';
import { Chart, type Series } from '../components/chart.js';
import { useDebounced, useLiveData } from '../hooks.js';
import type { FleetSummary, ModuleDetail, ModuleSummary } from '../types.js';

const FUNCTIONS = ['avg', 'min', 'max', 'sum', 'count', 'last'] as const;
const RANGES: Record<string, { ms: number; bucket: string }> = {
  '15 min': { ms: 15 * 60_000, bucket: '10s' },
  '1 h': { ms: 3_600_000, bucket: '1m' },
  '6 h': { ms: 6 * 3_600_000, bucket: '5m' },
  '24 h': { ms: 86_400_000, bucket: '15m' },
  '7 d': { ms: 7 * 86_400_000, bucket: '1h' },
};

/** The aggregate route's answer: one series per group, each a list of [bucket start, value]. */
interface AggregateAnswer {
  devices: number;
  source: string;
  series: Array<{ group: string | null; points: Array<[number, number]> }>;
}

const metricNames = (detail: ModuleDetail): string[] =>
  (detail.manifest.metrics ?? []).map((m) => (typeof m === 'string' ? m : m.name)).filter((n): n is string => typeof n === 'string');

export function AnalyticsPage() {
  const options = useLiveData(
    async () => {
      const [{ modules }, summary] = await Promise.all([api<{ modules: ModuleSummary[] }>('/modules'), api<FleetSummary>('/fleet/summary')]);
      return { modules, summary };
    },
    [],
  );
  const [module, setModule] = useState('');
  const [metric, setMetric] = useState('');
  const [fn, setFn] = useState<string>('avg');
  const [range, setRange] = useState('1 h');
  const [tags, setTags] = useState<string[]>([]);
  const [groupBy, setGroupBy] = useState('');
  const names = useMemo(() => [...new Set(options.data?.modules.map((m) => m.name) ?? [])].sort(), [options.data]);
  const chosen = module || names[0] || '';
  const latest = options.data?.modules.filter((m) => m.name === chosen).at(-1);
  const detail = useLiveData(
    () => (latest ? api<ModuleDetail>(`/modules/${encodeURIComponent(latest.name)}/${encodeURIComponent(latest.version)}`) : Promise.resolve(undefined)),
    [latest?.name, latest?.version],
  );
  const metrics = detail.data ? metricNames(detail.data) : [];
  const chosenMetric = metric && metrics.includes(metric) ? metric : metrics[0] ?? '';
  const selection = useDebounced([chosen, chosenMetric, fn, range, tags.join(','), groupBy].join('|'), 200);
  const tagKeys = [...new Set(options.data?.summary.byTag.map((t) => t.key) ?? [])];

  const aggregate = useLiveData<Series[] | undefined>(
    async () => {
      if (!chosen || !chosenMetric) return undefined;
      const r = RANGES[range]!;
      const answer = await api<AggregateAnswer>(
        '/results/aggregate' +
          query({ module: chosen, metric: chosenMetric, fn, bucket: r.bucket, from: Date.now() - r.ms, to: Date.now(), tag: tags, groupBy: groupBy || undefined }),
      );
      return answer.series.map((s) => ({
        label: s.group ?? (groupBy ? '(none)' : `${fn}(${chosenMetric})`),
        points: s.points.map(([t, value]) => ({ t, value })),
      }));
    },
    [selection],
    { stream: { kind: ['result'], tag: tags, sampleMs: 5000 }, pollMs: 5000 },
  );

  return (
    <div>
      <h1>Analytics <LiveDot live={aggregate.live} /></h1>
      <Problem error={options.error} />
      {!options.data && !options.error && <Loading />}
      {options.data && (
        <Section title="Query">
          <div class="filters">
            <label>module <select value={chosen} onChange={(e) => setModule(e.currentTarget.value)}>{names.map((n) => <option key={n}>{n}</option>)}</select></label>
            <label>metric <select value={chosenMetric} onChange={(e) => setMetric(e.currentTarget.value)}>{metrics.map((n) => <option key={n}>{n}</option>)}</select></label>
            <label>function <select value={fn} onChange={(e) => setFn(e.currentTarget.value)}>{FUNCTIONS.map((n) => <option key={n}>{n}</option>)}</select></label>
            <label>range <select value={range} onChange={(e) => setRange(e.currentTarget.value)}>{Object.keys(RANGES).map((n) => <option key={n}>{n}</option>)}</select></label>
            <label>group by
              <select value={groupBy} onChange={(e) => setGroupBy(e.currentTarget.value)}>
                <option value="">nothing</option>
                <option value="device">device</option>
                <option value="profile">profile</option>
                {tagKeys.map((k) => <option key={k} value={`tag:${k}`}>tag {k}</option>)}
              </select>
            </label>
          </div>
          <div class="filters">
            <span class="muted">devices with every tag:</span>
            {options.data.summary.byTag.map((t) => {
              const pair = `${t.key}=${t.value}`;
              const on = tags.includes(pair);
              return (
                <button key={pair} class={`chip ${on ? 'on' : ''}`} onClick={() => setTags(on ? tags.filter((x) => x !== pair) : [...tags, pair])}>
                  {pair}
                </button>
              );
            })}
          </div>
        </Section>
      )}
      <Section title={chosenMetric ? `${fn}(${chosen}.${chosenMetric}) per ${RANGES[range]!.bucket}${tags.length ? ` on ${tags.join(', ')}` : ''}` : 'Chart'}>
        <Problem error={aggregate.error} />
        {aggregate.data && aggregate.data.length > 0 && <Chart series={aggregate.data} height={320} />}
        {aggregate.data && aggregate.data.length === 0 && <p class="muted">No results in this range.</p>}
      </Section>
    </div>
  );
}
