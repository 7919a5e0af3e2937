/**
 * Modules: every version with its hash, size, manifest and signatures (which key), and where it
 * runs: the devices its deployments brought it to (applied or healthy, not superseded).
 */
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { LiveDot, Loading, Problem, Section } from '../components/bits.js';
import { bytes, count, short, time } from '../format.js';
import { useLiveData } from '../hooks.js';
import { href } from '../router.js';
import type { DeploymentSummary, ModuleDetail, ModuleSummary } from '../types.js';

interface Catalogue {
  modules: ModuleSummary[];
  runningOn: Map<string, { devices: number; deployments: string[] }>;
}

async function loadCatalogue(): Promise<Catalogue> {
  const [{ modules }, { deployments }] = await Promise.all([
    api<{ modules: ModuleSummary[] }>('/modules'),
    api<{ deployments: DeploymentSummary[] }>('/deployments'),
  ]);
  const runningOn = new Map<string, { devices: number; deployments: string[] }>();
  for (const d of deployments) {
    const here = (d.counts.applied ?? 0) + (d.counts.healthy ?? 0);
    if (here === 0) continue;
    const key = `${d.module}@${d.version}`;
    const entry = runningOn.get(key) ?? { devices: 0, deployments: [] };
    entry.devices += here;
    entry.deployments.push(d.id);
    runningOn.set(key, entry);
  }
  return { modules, runningOn };
}

function Manifest({ name, version }: { name: string; version: string }) {
  const detail = useLiveData(() => api<ModuleDetail>(`/modules/${encodeURIComponent(name)}/${encodeURIComponent(version)}`), [name, version]);
  if (detail.error) return <Problem error={detail.error} />;
  if (!detail.data) return <Loading />;
  return (
    <div class="manifest" data-testid="module-detail">
      <h3>Signatures</h3>
      <ul>
        {detail.data.signatures.map((s) => (
          <li key={s.keyId}>key <code>{s.keyId}</code></li>
        ))}
      </ul>
      <h3>Manifest</h3>
      <pre>{JSON.stringify(detail.data.manifest, null, 2)}</pre>
    </div>
  );
}

export function ModulesPage() {
  const catalogue = useLiveData(loadCatalogue, [], { stream: { kind: ['rollout.status'] }, pollMs: 10000 });
  const [open, setOpen] = useState<string | undefined>(undefined);
  const c = catalogue.data;
  return (
    <div>
      <h1>Modules <LiveDot live={catalogue.live} /></h1>
      <Problem error={catalogue.error} />
      {!c && !catalogue.error && <Loading />}
      {c && (
        <Section title={`${c.modules.length} module versions`}>
          <table class="grid" data-testid="modules-table">
            <thead><tr><th>module</th><th>version</th><th>sha256</th><th>size</th><th>published</th><th>runs on</th><th /></tr></thead>
            <tbody>
              {c.modules.map((m) => {
                const key = `${m.name}@${m.version}`;
                const where = c.runningOn.get(key);
                return [
                  <tr key={key}>
                    <td>{m.name}</td>
                    <td>{m.version}</td>
                    <td><code title={m.sha256}>{short(m.sha256)}</code></td>
                    <td class="num">{bytes(m.size)}</td>
                    <td class="small">{time(m.createdAt)}</td>
                    <td>
                      {where ? `${count(where.devices)} devices via ` : '—'}
                      {where?.deployments.map((id) => <a key={id} href={href.deployment(id)} class="small">{short(id, 14)} </a>)}
                    </td>
                    <td><button onClick={() => setOpen(open === key ? undefined : key)}>{open === key ? 'hide' : 'manifest'}</button></td>
                  </tr>,
                  open === key ? (
                    <tr key={key + '-detail'}>
                      <td colSpan={7}><Manifest name={m.name} version={m.version} /></td>
                    </tr>
                  ) : null,
                ];
              })}
            </tbody>
          </table>
        </Section>
      )}
    </div>
  );
}
