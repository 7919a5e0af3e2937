/**
 * Agent footprint on the gateway: the bundle's size against the compiled JS and node_modules
 * files an unbundled agent would have to carry (esbuild's metafile inputs), and the bundled
 * agent's resident memory, idle and connected, against a bare Node process sampled in the same
 * run. RSS is read from /proc (Linux, like the gateways).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildAgentBundle, BUNDLE_ENTRY, BUNDLE_WORKER } from '../bundle/build-agent.js';
import { loadProfile } from '../firmware-profiles/index.js';
import { startPlatform } from '../platform/start-platform.js';
import { silentLogger } from '../common/logger.js';
import { figure, median, type BenchFigure } from './figure.js';

const pause = (ms: number) => new Promise((done) => setTimeout(done, ms));

function rssMiB(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]) / 1024;
}

/** Median of a few samples taken after the process has settled, so start-up garbage is collected or counted alike. */
async function settledRss(child: ChildProcess, settleMs: number, samples = 5): Promise<number> {
  await pause(settleMs);
  const values: number[] = [];
  for (let i = 0; i < samples; i += 1) {
    if (child.exitCode !== null) throw new Error(`process ${child.pid} exited with ${child.exitCode}`);
    values.push(rssMiB(child.pid!));
    await pause(200);
  }
  return median(values);
}

async function waitOnline(apiUrl: string, token: string, id: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const response = await fetch(`${apiUrl}/api/v1/devices/${id}`, { headers: { authorization: `Bearer ${token}` } });
    if (response.ok && ((await response.json()) as { online: boolean }).online) return;
    await pause(100);
  }
  throw new Error(`${id} did not come online`);
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((done) => child.once('exit', done));
  child.kill('SIGTERM');
  await exited;
}

export async function benchFootprint(options: { settleMs?: number } = {}): Promise<BenchFigure[]> {
  const settleMs = options.settleMs ?? 3000;
  const work = mkdtempSync(join(tmpdir(), 'wf-bench-footprint-'));
  const children: ChildProcess[] = [];
  const platform = await startPlatform({ dataDir: join(work, 'data'), mqttPort: 0, httpPort: 0 }, silentLogger);
  try {
    const bundle = await buildAgentBundle({ outDir: join(work, 'bundle') });

    const response = await fetch(`${platform.apiUrl}/api/v1/devices`, {
      method: 'POST',
      headers: { authorization: `Bearer ${platform.newAdminToken ?? ''}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'gw-footprint', profile: 'sim-x86-64' }),
    });
    if (response.status !== 201) throw new Error(`provisioning failed: ${response.status} ${await response.text()}`);
    const { mqtt } = (await response.json()) as { mqtt: { url: string; username: string; password: string } };
    // Laid out as flash lays it out, in a folder outside the repository.
    for (const file of [BUNDLE_ENTRY, BUNDLE_WORKER]) {
      copyFileSync(join(bundle.dir, file), join(work, file));
    }
    writeFileSync(join(work, 'profile.json'), JSON.stringify(loadProfile('sim-x86-64')));
    writeFileSync(join(work, 'agent.json'), JSON.stringify({ deviceId: 'gw-footprint', broker: mqtt, profile: 'profile.json', stateDir: join(work, 'state') }), { mode: 0o600 });

    const env = { PATH: process.env.PATH ?? '', WASMFLEET_LOG_LEVEL: 'warn' };
    const agent = spawn(process.execPath, [join(work, BUNDLE_ENTRY), '--config', join(work, 'agent.json')], { cwd: work, env, stdio: 'ignore' });
    const bare = spawn(process.execPath, ['-e', 'setInterval(()=>{},1000)'], { cwd: work, env, stdio: 'ignore' });
    children.push(agent, bare);
    await waitOnline(platform.apiUrl, platform.newAdminToken ?? '', 'gw-footprint');
    const [agentRss, bareRss] = await Promise.all([settledRss(agent, settleMs), settledRss(bare, settleMs)]);

    return [
      figure({
        bench: 'footprint/bundle-size',
        subject: `agent bundle (${BUNDLE_ENTRY} + ${BUNDLE_WORKER}, minified)`,
        baseline: `unbundled agent: ${bundle.inputs.length} JS files it needs (dist + node_modules)`,
        unit: 'KiB',
        subjectValue: Math.round(bundle.bytes / 102.4) / 10,
        baselineValue: Math.round(bundle.inputBytes / 102.4) / 10,
        note: 'lower is better; the issue asks for under 1 MB (1024 KiB)',
      }),
      figure({
        bench: 'footprint/idle-rss',
        subject: 'bundled agent, connected, no modules',
        baseline: 'bare node -e "setInterval(()=>{},1000)"',
        unit: 'MiB',
        subjectValue: Math.round(agentRss * 10) / 10,
        baselineValue: Math.round(bareRss * 10) / 10,
        note: `lower is better; RSS median of 5 samples after ${settleMs} ms, Node ${process.version} ${process.arch}`,
      }),
    ];
  } finally {
    await Promise.all(children.map(stop));
    await platform.close();
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  for (const f of await benchFootprint()) {
    process.stdout.write(`${f.bench}: ${f.subjectValue} ${f.unit} vs ${f.baselineValue} ${f.unit} (×${f.ratio.toFixed(2)})  ${f.subject} / ${f.baseline}\n`);
  }
}
