/**
 * The loop behind `wasmfleet module dev DIR --device ID`: on each save, a debug build (source
 * map inside, so faults name the line), signed with the development publisher key, published as
 * `x.y.z-dev.N` and deployed at once to that one device; the device's results and faults come
 * back through the API's live events. Ending the loop leaves the device as it was.
 *
 * How "as it was" holds: before each new dev deployment the previous one is rolled back, so the
 * one live dev deployment always replaced the entry the device had before the loop (its
 * "previous entry", docs/rollouts.md). Rolling it back at the end puts that entry back, with its
 * deployment id, config and input, or removes the module if there was none. Then every dev version
 * this loop published is deleted (`DELETE /api/v1/modules/:name/:version`): only this loop's, so a
 * loop on another device keeps its own; the server refuses any still desired (WF_API_MODULE_IN_USE),
 * and those are reported as kept with the reason.
 * Owns: the loop's steps and its state. Must not: parse flags or print (the command does).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isWasmfleetError, reasonOf } from '../common/errors.js';
import { buildModule, readManifest } from '../modules-as/sdk/kit/build-module.js';
import type { BuildProblem } from '../modules-as/sdk/kit/debug-build.js';
import { completeManifest, sha256Hex, signModule, type DesiredModule, type FaultLocation, type Manifest, type ModuleConfig, type SigningKey } from '../protocol/index.js';
import type { ApiClient } from './api-client.js';
import { cliErrors } from './errors.js';

/** What the loop tells whoever shows it; `--json` prints these as they are, one per line. */
export type DevEvent =
  | { type: 'building'; version: string }
  | { type: 'build-failed'; problems: BuildProblem[]; reason: string }
  | { type: 'deployed'; version: string; deploymentId: string; buildMs: number; deployMs: number }
  | { type: 'running'; version: string }
  | { type: 'result'; version: string; metric: string; kind: string; points: [number, number][] }
  | { type: 'fault'; version: string; message: string; at?: FaultLocation; faults: number }
  | { type: 'watching'; dir: string; device: string }
  | { type: 'restored'; to: string | null }
  | { type: 'cleaned'; removed: string[]; kept: { version: string; reason: string }[] }
  | { type: 'error'; message: string };

export interface DevLoopOptions {
  readonly api: ApiClient;
  readonly dir: string;
  readonly deviceId: string;
  readonly publisher: SigningKey;
  /** Take over a device whose deployment of this module is not a dev version. */
  readonly force?: boolean;
  /** The deployment's config and input; by default those of the entry the device had. */
  readonly config?: ModuleConfig;
  readonly input?: string;
  readonly onEvent: (event: DevEvent) => void;
}

/** A prerelease made by this loop: `1.2.0-dev.7`. */
export const DEV_VERSION = /^(\d+\.\d+\.\d+)-dev\.(\d+)$/;
export const isDevVersion = (version: string): boolean => DEV_VERSION.test(version);

/**
 * Every device at once, no soak, no result required, and a failure threshold one device can never
 * reach: a dev module that faults stays on the device so its author sees the fault.
 */
const DEV_STRATEGY = { canary: 0, soakSeconds: 0, ratePerMinute: 0, requireResults: false, failureThreshold: 2 } as const;

/** The clean-up at the end gives up on what is left after this long, so stopping stays bounded. */
export const CLEANUP_BUDGET_MS = 10_000;

interface DeviceView {
  desired: { modules: DesiredModule[] };
}

export class DevLoop {
  private before: DesiredModule | undefined;
  private manifest!: Manifest;
  private base = '0.0.0';
  private next = 1;
  private live: { version: string; deploymentId: string } | undefined;
  /** Every version this loop uploaded, in order: what the clean-up deletes. */
  private readonly published: string[] = [];
  private lastFaults = new Map<string, number>();
  private lastState = new Map<string, string>();

  constructor(private readonly options: DevLoopOptions) {}

  get moduleName(): string {
    return this.manifest.name;
  }

  get liveVersion(): string | undefined {
    return this.live?.version;
  }

  /** Checks the device and picks the first free dev number; refuses a device running a release of the module. */
  async prepare(): Promise<void> {
    const { api, deviceId, dir } = this.options;
    this.manifest = await readManifest(dir);
    this.base = this.manifest.version.replace(/[-+].*$/, '');
    const device = await api.get<DeviceView>(`/api/v1/devices/${encodeURIComponent(deviceId)}`);
    this.before = device.desired.modules.find((m) => m.name === this.manifest.name);
    if (this.before && !isDevVersion(this.before.version) && !this.options.force) {
      throw cliErrors.WF_CLI_DEV_REFUSED({ device: deviceId, module: this.manifest.name, version: this.before.version });
    }
    const { modules } = await api.get<{ modules: { name: string; version: string }[] }>('/api/v1/modules');
    for (const published of modules) {
      const match = published.name === this.manifest.name ? DEV_VERSION.exec(published.version) : null;
      if (match && match[1] === this.base) this.next = Math.max(this.next, Number(match[2]) + 1);
    }
  }

  /** One save: build, publish, swap the device's dev deployment. A build error deploys nothing. */
  async cycle(): Promise<boolean> {
    const { api, dir, deviceId, onEvent } = this.options;
    const version = `${this.base}-dev.${this.next}`;
    onEvent({ type: 'building', version });
    const started = performance.now();
    let bytes: Uint8Array;
    let manifest: Manifest;
    try {
      const built = await buildModule(dir, { debug: true });
      bytes = built.bytes;
      manifest = completeManifest({ ...JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')), version });
    } catch (error) {
      if (isWasmfleetError(error) && error.code === 'WF_MODULE_COMPILE_FAILED') {
        onEvent({ type: 'build-failed', problems: (error.details['problems'] as BuildProblem[] | undefined) ?? [], reason: error.message });
        return false;
      }
      if (isWasmfleetError(error) && error.code.startsWith('WF_MODULE_')) {
        onEvent({ type: 'build-failed', problems: [], reason: error.message });
        return false;
      }
      throw error;
    }
    this.next += 1;
    const built = performance.now();
    const signature = signModule({ manifest, sha256: sha256Hex(bytes), size: bytes.byteLength }, this.options.publisher);
    await api.post('/api/v1/modules', { manifest, wasm: Buffer.from(bytes).toString('base64'), signatures: [signature] });
    this.published.push(version);
    await this.rollBackLive();
    const config = this.options.config ?? this.before?.config;
    const input = this.options.input ?? this.before?.input;
    const created = await api.post<{ id: string }>('/api/v1/deployments', {
      module: manifest.name,
      version,
      target: { devices: [deviceId] },
      ...(config ? { config } : {}),
      ...(input ? { input } : {}),
      strategy: DEV_STRATEGY,
    });
    this.live = { version, deploymentId: created.id };
    onEvent({ type: 'deployed', version, deploymentId: created.id, buildMs: Math.round(built - started), deployMs: Math.round(performance.now() - built) });
    return true;
  }

  /**
   * Puts the device back as it was before the loop, then deletes the dev versions this loop
   * published. The rollback has changed the desired state in SQLite by the time its POST returns,
   * so the server no longer counts the live dev version as desired.
   */
  async restore(cleanupBudgetMs = CLEANUP_BUDGET_MS): Promise<void> {
    try {
      const rolledBack = await this.rollBackLive();
      if (rolledBack) this.options.onEvent({ type: 'restored', to: this.before ? `${this.before.name}@${this.before.version}` : null });
    } finally {
      // Even after a failed rollback: the server refuses the version still desired, the rest can go.
      await this.cleanUp(cleanupBudgetMs);
    }
  }

  /** Deletes this loop's dev versions one by one, within the budget; reports what went and what stayed. */
  private async cleanUp(budgetMs: number): Promise<void> {
    if (this.published.length === 0) return;
    const removed: string[] = [];
    const kept: { version: string; reason: string }[] = [];
    const deadline = Date.now() + budgetMs;
    for (const version of this.published.splice(0)) {
      const left = deadline - Date.now();
      if (left <= 0) {
        kept.push({ version, reason: `not tried: the ${budgetMs} ms clean-up budget ran out` });
        continue;
      }
      const outcome = await withTimeout(this.deleteVersion(version), left);
      if (outcome === undefined) kept.push({ version, reason: `no answer within the ${budgetMs} ms clean-up budget` });
      else if (outcome === true) removed.push(version);
      else kept.push({ version, reason: outcome });
    }
    this.options.onEvent({ type: 'cleaned', removed, kept });
  }

  /** true when the version is gone (deleted now, or already); otherwise why it stayed. */
  private async deleteVersion(version: string): Promise<true | string> {
    const path = `/api/v1/modules/${encodeURIComponent(this.manifest.name)}/${encodeURIComponent(version)}`;
    try {
      await this.options.api.request('DELETE', path);
      return true;
    } catch (error) {
      if (isWasmfleetError(error, 'WF_CLI_API_ERROR') && error.details['apiCode'] === 'WF_API_NOT_FOUND') return true;
      return reasonOf(error);
    }
  }

  private async rollBackLive(): Promise<boolean> {
    const live = this.live;
    if (!live) return false;
    this.live = undefined;
    await this.options.api.post(`/api/v1/deployments/${encodeURIComponent(live.deploymentId)}/rollback`, {});
    return true;
  }

  /** Turns one live API event into what the author sees: results and faults of the live dev version. */
  observe(event: string, data: Record<string, unknown>): void {
    const live = this.live;
    if (!live || data['deviceId'] !== this.options.deviceId) return;
    if (event === 'result' && data['module'] === this.manifest.name && data['version'] === live.version) {
      this.options.onEvent({ type: 'result', version: live.version, metric: String(data['metric']), kind: String(data['kind']), points: (data['points'] as [number, number][]) ?? [] });
      return;
    }
    if (event !== 'device.reported') return;
    const modules = (data['modules'] as { name: string; version: string; state: string; faults: number; lastFault?: string; faultAt?: FaultLocation }[]) ?? [];
    const mine = modules.find((m) => m.name === this.manifest.name && m.version === live.version);
    if (!mine) return;
    if (mine.state === 'running' && this.lastState.get(live.version) !== 'running') this.options.onEvent({ type: 'running', version: live.version });
    this.lastState.set(live.version, mine.state);
    if (mine.faults > (this.lastFaults.get(live.version) ?? 0) && mine.lastFault) {
      this.options.onEvent({ type: 'fault', version: live.version, message: mine.lastFault, faults: mine.faults, ...(mine.faultAt ? { at: mine.faultAt } : {}) });
    }
    this.lastFaults.set(live.version, mine.faults);
  }
}

/** The promise's value, or undefined if it has not settled within `ms`. */
async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((done) => {
    timer = setTimeout(() => done(undefined), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
