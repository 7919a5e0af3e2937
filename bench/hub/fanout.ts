/**
 * Hub fan-out (issue 14, Performance): one module rollout to SITES × PER_SITE simulated devices
 * (default 10 × 50), (a) through a hub per site: central → 10 hub processes → 50 devices each,
 * against (b) the same number of devices connected straight to central. Each arm runs on a fresh
 * `wasmfleet server`; the arms run one after the other in the same bench run.
 *
 * The devices are real agents (bench/rollout-agents.ts, 100 to a process, the light profile of
 * rollout-scale): each gets its desired state, fetches the module, verifies it (hash, length,
 * sha256, signature, manifest, ABI) and runs it. Every connection to the centre (the agents' in
 * (b), the hubs' uplinks in (a)) goes through a TCP proxy the bench runs, which counts the bytes
 * the central broker writes on them (central-meter.ts) and spreads their source addresses over
 * 127.0.0.2… so the broker's per-address connection limit sees many clients, as in a real fleet.
 *
 * Figures, each hubs / direct: module bytes the central broker sent during the rollout window
 * (POST → all applied), all bytes it sent then, connections to the centre, and the time.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fetchAllPages } from '../../cli/paging.js';
import { loadSigningKey } from '../../cli/commands/keys.js';
import { publishModuleDir } from '../../cli/commands/module.js';
import { fromRoot } from '../../common/paths.js';
import { startTcpProxy } from '../../test/helpers/tcp-proxy.js';
import { figure, type BenchFigure } from '../figure.js';
import { lightProfile, until } from '../rollout-scale.js';
import { CentralMeter, since, type MeterSnapshot } from './central-meter.js';
import { FanoutTrace } from './fanout-trace.js';
import { Cleanups, deviceIds, HubProcess, provisionDevices, startAgents, startCentral, type ProvisionedDevice } from './parts.js';

export interface FanoutOptions {
  readonly sites?: number;
  readonly perSite?: number;
}

interface ArmResult {
  readonly window: MeterSnapshot;
  /** Connections to the centre through the proxy when the rollout started. */
  readonly connections: number;
  readonly appliedMs: number;
  readonly devices: number;
}

const AGENTS_PER_PROCESS = 100;

export async function runArm(viaHubs: boolean, sites: number, perSite: number): Promise<ArmResult> {
  const cleanups = new Cleanups();
  const dir = mkdtempSync(join(tmpdir(), `wf-bench-hub-fanout-${viaHubs ? 'hubs' : 'direct'}-`));
  cleanups.after(() => rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 }));
  try {
    const central = await startCentral(cleanups);
    const meter = new CentralMeter();
    const proxy = await startTcpProxy(cleanups.context, { port: central.fleet.mqttPort }, 0, {
      onTargetData: meter.onTargetData,
      localAddress: (n) => `127.0.${2 + Math.floor(n / 250)}.${2 + (n % 250)}`,
    });
    const devices: ProvisionedDevice[] = [];
    const hubs: HubProcess[] = [];
    const trace = process.env.WF_BENCH_HUB_TRACE ? new FanoutTrace() : undefined;
    for (let s = 0; s < sites; s++) {
      const site = `s${String(s).padStart(2, '0')}`;
      const hubId = `hub-${site}`;
      const hub = viaHubs ? await HubProcess.start(cleanups, central, hubId, { site }, proxy.url, dir, trace?.hubLines(hubId)) : undefined;
      if (hub) hubs.push(hub);
      const siteDevices = await provisionDevices(central, deviceIds(`${site}-`, perSite), { site, bench: 'fanout' }, hub?.url ?? proxy.url, join(dir, 'agents'));
      if (hub) for (const device of siteDevices) trace?.deviceBehind(device.deviceId, hubId);
      devices.push(...siteDevices);
    }
    await publishModuleDir(central.api, fromRoot('modules-as', 'examples', 'ema'), loadSigningKey(central.fleet.env.WASMFLEET_PUBLISHER_KEY!, 'publisher key'));
    const profile = lightProfile(dir);
    // A site's devices stay in one process, so each hub sees its devices connect at startRate.
    const processes = Math.ceil(devices.length / AGENTS_PER_PROCESS);
    const agentProcesses = await Promise.all(
      Array.from({ length: processes }, (_, p) =>
        startAgents(cleanups, dir, `agents-${p}`, { profile, startRate: 8, devices: devices.slice(p * AGENTS_PER_PROCESS, (p + 1) * AGENTS_PER_PROCESS) }),
      ),
    );
    const total = devices.length;
    await until('every device online', async () => (await fetchAllPages(central.api, '/api/v1/devices', 'devices', { online: true })).length === total, 300_000, 1000);
    if (viaHubs) {
      await until('every hub online', async () => (await central.api.get<{ hubs: { online: boolean }[] }>('/api/v1/hubs')).hubs.filter((hub) => hub.online).length === sites, 60_000, 500);
    }
    // Let the connect-time traffic (retained states, status) settle before the window opens.
    await new Promise((resolve) => setTimeout(resolve, 2000));

    // WF_BENCH_HUB_PROFILE=DIR: CPU profiles of every hub and agents process over the rollout window.
    const profileDir = process.env.WF_BENCH_HUB_PROFILE;
    if (profileDir) {
      for (const hub of hubs) hub.profileStart();
      for (const child of agentProcesses) child.stdin!.write('{"cmd":"profile-start"}\n');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const connections = proxy.open;
    const before = meter.snapshot();
    const start = performance.now();
    if (process.env.WF_BENCH_HUB_LOG) process.stderr.write(JSON.stringify({ time: new Date().toISOString(), msg: 'bench: deployment posted' }) + '\n');
    trace?.posted();
    const created = await central.api.post<{ id: string }>('/api/v1/deployments', {
      module: 'ema',
      version: '1.0.0',
      target: { tags: { bench: 'fanout' } },
      config: { alpha: 0.2 },
      strategy: { canary: 0, soakSeconds: 0, ratePerMinute: 0 },
    });
    try {
      await until('every device applied', async () => (await central.api.get<{ counts: Record<string, number> }>(`/api/v1/deployments/${created.id}`)).counts.healthy === total, 300_000, 100);
    } finally {
      if (profileDir) await profileWindow(profileDir, viaHubs ? 'hubs' : 'direct', hubs, agentProcesses);
    }
    const appliedMs = performance.now() - start;
    if (trace) process.stderr.write(trace.report(viaHubs ? 'via hubs' : 'direct', central.dbPath, created.id, appliedMs) + '\n');
    return { window: since(meter.snapshot(), before), connections, appliedMs, devices: total };
  } finally {
    await cleanups.run();
  }
}

async function profileWindow(dir: string, arm: string, hubs: HubProcess[], agentProcesses: ChildProcess[]): Promise<void> {
  for (const hub of hubs) {
    const top = await hub.profileStop(dir, `${arm}-${hub.hubId}`);
    process.stderr.write(`profile ${arm} ${hub.hubId}: ${top.join('; ')}\n`);
  }
  await Promise.all(
    agentProcesses.map(
      (child, p) =>
        new Promise<void>((resolve) => {
          const lines = createInterface({ input: child.stdout! });
          lines.on('line', (line) => {
            if (!line.includes('"profile-stop"')) return;
            process.stderr.write(`profile ${arm} agents-${p}: ${(JSON.parse(line) as { top: string[] }).top.join('; ')}\n`);
            lines.close();
            resolve();
          });
          child.stdin!.write(JSON.stringify({ cmd: 'profile-stop', dir, name: `${arm}-agents-${p}` }) + '\n');
        }),
    ),
  );
}

const kib = (bytes: number): number => bytes / 1024;

export async function benchHubFanout(options: FanoutOptions = {}): Promise<BenchFigure[]> {
  const sites = options.sites ?? Number(process.env.WF_BENCH_HUB_SITES ?? 10);
  const perSite = options.perSite ?? Number(process.env.WF_BENCH_HUB_DEVICES_PER_SITE ?? 50);
  const direct = await runArm(false, sites, perSite);
  const hubs = await runArm(true, sites, perSite);
  const n = direct.devices;
  const shape = `${sites} sites × ${perSite} devices`;
  return [
    figure({
      bench: 'hub-fanout/module-bytes',
      subject: `module bytes sent by the central broker for one rollout, via ${sites} hubs (${shape})`,
      baseline: `the same ${n} devices connected to central directly`,
      unit: 'KiB',
      subjectValue: kib(hubs.window.moduleBytes),
      baselineValue: kib(direct.window.moduleBytes),
      note: `lower is better; goal ≤ 1/40 (0.025); module PUBLISH packets counted at a TCP proxy in front of the central broker: ${hubs.window.modulePublishes} via hubs, ${direct.window.modulePublishes} direct`,
    }),
    figure({
      bench: 'hub-fanout/bytes',
      subject: `all bytes sent by the central broker from the POST to all applied, via hubs (${shape})`,
      baseline: `the same, ${n} devices connected directly`,
      unit: 'KiB',
      subjectValue: kib(hubs.window.bytes),
      baselineValue: kib(direct.window.bytes),
      note: `lower is better; desired states ${Math.round(kib(hubs.window.desiredBytes))} vs ${Math.round(kib(direct.window.desiredBytes))} KiB (one per device either way), the rest acks and the first results' acks; counted at the proxy, the API's own broker link excluded`,
    }),
    figure({
      bench: 'hub-fanout/connections',
      subject: `connections to the central broker, via hubs (${shape})`,
      baseline: `the same devices connected directly`,
      unit: 'connections',
      subjectValue: hubs.connections,
      baselineValue: direct.connections,
      note: 'lower is better; open proxied connections when the rollout started',
    }),
    figure({
      bench: 'hub-fanout/applied',
      subject: `POST /deployments → all ${n} devices applied, via ${sites} hub processes (${shape})`,
      baseline: `the same rollout, ${n} devices connected directly`,
      unit: 'ms',
      subjectValue: hubs.appliedMs,
      baselineValue: direct.appliedMs,
      note: `lower is better; goal ratio ≤ 1.5; unthrottled rollout, real agents ${AGENTS_PER_PROCESS} to a process, every connection to the centre through the counting proxy in both arms`,
    }),
  ];
}
