/**
 * Creating a deployment: resolve the target, validate the config against the module's manifest
 * and every targeted device's profile, plan the waves and store it all in one transaction, every
 * device `waiting`. Sending desired states is the rollout engine's job (rollout.ts), which the
 * route runs at once, so the first wave leaves in the same request.
 */
import { randomBytes } from 'node:crypto';
import { grantedMemoryPages, hasSource, listProfileNames, loadProfile, memoryBudgetProblem, moduleFit, type FirmwareProfile, type FitRefusal } from '../../firmware-profiles/index.js';
import { configProblemText, configRefusal, effectiveConfig, MAX_MODULES_PER_DEVICE, requestedLimits, type DesiredModule, type ModuleConfig, type ModuleLimits } from '../../protocol/index.js';
import { apiErrors } from '../errors.js';
import type { DeploymentTarget, DeviceRecord, Store } from '../store/index.js';
import { composeDesired } from './compose.js';
import { planWaves, resolveStrategy, type StrategyInput } from './strategy.js';

export interface DeploymentRequest {
  module: string;
  version: string;
  target: DeploymentTarget;
  config?: ModuleConfig;
  input?: string;
  /** Runtime limits requested for this deployment; protocol/runtime-limits.ts says how they combine. */
  limits?: ModuleLimits;
  strategy?: StrategyInput;
}

export interface DeploymentOutcome {
  id: string;
  /** Every targeted device. */
  deviceIds: string[];
  /** Wave sizes, canary first. */
  waves: number[];
}

const newDeploymentId = (): string => `dep-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;

/** Why a device refuses a deployment: the request field to blame, and the reason in words. */
export interface DeviceRefusal {
  readonly field: 'body/input' | 'body/module' | 'body/limits/memoryPages' | 'body/target';
  readonly reason: string;
}

/** The request field a fit refusal blames: the deployment's memoryPages only when its request is the one that binds. */
function blamedField(refusal: FitRefusal, requested: ModuleLimits | null | undefined, entry: DesiredModule): DeviceRefusal['field'] {
  if (refusal.field === 'input') return 'body/input';
  if (refusal.field === 'limits/memoryPages' && requested?.memoryPages !== undefined && requested.memoryPages === entry.limits?.memoryPages) return 'body/limits/memoryPages';
  return refusal.field === 'alongside' ? 'body/target' : 'body/module';
}

/**
 * Why this device cannot take the entry, or null: an unknown source, a module its profile cannot
 * run (initial memory above what it would be granted), a memory budget overrun beside the modules
 * it already has, or too many modules [docs/profiles.md#what-a-profile-refuses]. `requested` is
 * the deployment's own limits request, to tell whether it is what starves the module.
 */
export function deviceProblem(store: Store, device: DeviceRecord, entry: DesiredModule, profile: FirmwareProfile, requested?: ModuleLimits | null): DeviceRefusal | null {
  const refuse = (field: DeviceRefusal['field'], reason: string): DeviceRefusal => ({ field, reason });
  if (!hasSource(profile, entry.input)) return refuse('body/input', `device ${device.id} (profile ${device.profile}) has no source '${entry.input}'`);
  const module = store.getModule(entry.name, entry.version);
  if (module) {
    const wasm = store.moduleWasm(module.sha256);
    const unfit = moduleFit(profile, { manifest: module.manifest, limits: entry.limits, ...(wasm ? { wasm } : {}) });
    if (unfit) return refuse(blamedField(unfit, requested, entry), `device ${device.id} (profile ${device.profile}) cannot run it: ${unfit.reason}`);
  }
  const composed = composeDesired(device.id, device.desired, device.desiredRevision, entry, new Date().toISOString());
  const overBudget = memoryBudgetProblem(
    profile,
    composed.state.modules.map((m) => {
      const manifest = store.getModule(m.name, m.version)?.manifest ?? module?.manifest;
      return manifest ? grantedMemoryPages(profile, manifest, m.limits) : 0;
    }),
  );
  if (overBudget) return refuse('body/target', `device ${device.id}: ${overBudget}`);
  const allowed = Math.min(MAX_MODULES_PER_DEVICE, profile.moduleLimits.maxModules);
  if (composed.state.modules.length > allowed) {
    return refuse('body/target', `device ${device.id} would run ${composed.state.modules.length} modules; profile ${device.profile} allows ${allowed}`);
  }
  return null;
}

/**
 * The store with module reads (record and Wasm) remembered, for one transaction that checks many
 * devices against the same modules: read and parsed once per module instead of once per device
 * (a manifest parse and a Wasm blob each, thousands of times, in a 10,000-device rollout). Only
 * inside one transaction, where a module cannot change under it.
 */
export function withModuleMemo(store: Store): Store {
  const records = new Map<string, ReturnType<Store['getModule']>>();
  const wasm = new Map<string, Buffer | undefined>();
  const memo = Object.create(store) as Store;
  memo.getModule = (name, version) => {
    const key = `${name}@${version}`;
    if (!records.has(key)) records.set(key, store.getModule(name, version));
    return records.get(key);
  };
  memo.moduleWasm = (sha256) => {
    if (!wasm.has(sha256)) wasm.set(sha256, store.moduleWasm(sha256));
    return wasm.get(sha256);
  };
  return memo;
}

/** The desired-state entry a deployment puts on each device; its limits are the manifest's and the deployment's, per key the smaller. */
export function deploymentEntry(
  store: Store,
  deployment: { id: string; module: string; version: string; config: ModuleConfig; input: string | null; limits?: ModuleLimits | null },
): DesiredModule | undefined {
  const module = store.getModule(deployment.module, deployment.version);
  if (!module) return undefined;
  const limits = requestedLimits(module.manifest.limits, deployment.limits);
  return {
    name: module.name,
    version: module.version,
    sha256: module.sha256,
    size: module.size,
    deploymentId: deployment.id,
    config: effectiveConfig(module.manifest, deployment.config),
    ...(deployment.input !== null ? { input: deployment.input } : {}),
    ...(limits ? { limits } : {}),
  };
}

export function createDeployment(store: Store, request: DeploymentRequest, profiles: (name: string) => FirmwareProfile = loadProfile): DeploymentOutcome {
  const { target } = request;
  if (!target.devices?.length && !target.tags && target.profile === undefined) {
    throw apiErrors.WF_API_VALIDATION({ field: 'body/target', reason: 'must name devices, tags or a profile' });
  }
  if (target.profile !== undefined && !listProfileNames().includes(target.profile)) {
    throw apiErrors.WF_API_VALIDATION({ field: 'body/target/profile', reason: `unknown firmware profile '${target.profile}'` });
  }
  const strategy = resolveStrategy(request.strategy);
  const config = request.config ?? {};
  const loaded = new Map<string, FirmwareProfile>();
  const profileOf = (name: string): FirmwareProfile => {
    let profile = loaded.get(name);
    if (!profile) loaded.set(name, (profile = profiles(name)));
    return profile;
  };

  return store.transaction(() => {
    store = withModuleMemo(store);
    const module = store.getModule(request.module, request.version);
    if (!module) throw apiErrors.WF_API_NOT_FOUND({ kind: 'module', id: `${request.module}@${request.version}`, field: 'body/module' });
    const refusal = configRefusal(module.manifest, config);
    if (refusal) throw apiErrors.WF_API_CONFIG_INVALID({ reason: configProblemText(refusal), field: `body/config/${refusal.param}` });

    const devices = store.listDevices({ ids: target.devices, tags: target.tags, profile: target.profile });
    if (target.devices) {
      const found = new Set(devices.map((d) => d.id));
      const missing = target.devices.find((id) => !found.has(id) && store.getDevice(id) === undefined);
      if (missing !== undefined) throw apiErrors.WF_API_NOT_FOUND({ kind: 'device', id: missing, field: 'body/target/devices' });
    }
    if (devices.length === 0) throw apiErrors.WF_API_TARGET_INVALID({ reason: 'target matches no device', field: 'body/target' });

    const id = newDeploymentId();
    const input = request.input ?? null;
    const limits = request.limits && Object.keys(request.limits).length > 0 ? request.limits : null;
    const entry = deploymentEntry(store, { id, module: module.name, version: module.version, config, input, limits })!;
    for (const device of devices) {
      const refused = deviceProblem(store, device, entry, profileOf(device.profile), limits);
      if (refused) throw apiErrors.WF_API_TARGET_INVALID({ reason: refused.reason, field: refused.field });
    }

    const waves = planWaves(strategy, devices.length);
    store.insertDeployment({ id, module: module.name, version: module.version, sha256: module.sha256, target, config, input, limits, strategy, waves: waves.length });
    let wave = 0;
    let left = waves[0]!;
    for (const device of devices) {
      if (left === 0) left = waves[++wave]!;
      left -= 1;
      // Older rollouts of this module stop before reaching a device this one targets [docs/rollouts.md#supersede].
      store.supersedeWaiting(device.id, module.name, id);
      store.insertDeploymentDevice({ deploymentId: id, deviceId: device.id, module: module.name, state: 'waiting', reason: null, revision: device.desiredRevision, wave });
    }
    return { id, deviceIds: devices.map((d) => d.id), waves };
  });
}
