/**
 * Creating a deployment: resolve the target, validate the config against the module's manifest,
 * compose each device's next desired state, and store it all in one transaction. Publishing is
 * the caller's next step (the link reads what was stored here), so a crash between the two only
 * delays delivery until the next re-sync.
 */
import { randomBytes } from 'node:crypto';
import { grantedMemoryPages, listProfileNames, loadProfile, memoryBudgetProblem, moduleFitProblem, type FirmwareProfile } from '../../firmware-profiles/index.js';
import {
  configProblem,
  effectiveConfig,
  MAX_MODULES_PER_DEVICE,
  type DesiredModule,
  type ModuleConfig,
} from '../../protocol/index.js';
import { apiErrors } from '../errors.js';
import type { DeploymentTarget, Store } from '../store/index.js';
import { composeDesired } from './compose.js';

export interface DeploymentRequest {
  module: string;
  version: string;
  target: DeploymentTarget;
  config?: ModuleConfig;
  input?: string;
}

export interface DeploymentOutcome {
  id: string;
  /** Every targeted device. */
  deviceIds: string[];
  /** Devices whose desired state changed (revision bumped) and must be published. */
  changed: string[];
}

const newDeploymentId = (): string => `dep-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;

export function createDeployment(store: Store, request: DeploymentRequest, profiles: (name: string) => FirmwareProfile = loadProfile): DeploymentOutcome {
  const { target } = request;
  if (!target.devices?.length && !target.tags && target.profile === undefined) {
    throw apiErrors.WF_API_VALIDATION({ field: 'body/target', reason: 'must name devices, tags or a profile' });
  }
  if (target.profile !== undefined && !listProfileNames().includes(target.profile)) {
    throw apiErrors.WF_API_VALIDATION({ field: 'body/target/profile', reason: `unknown firmware profile '${target.profile}'` });
  }
  const config = request.config ?? {};
  const loaded = new Map<string, FirmwareProfile>();
  const profileOf = (name: string): FirmwareProfile => {
    let profile = loaded.get(name);
    if (!profile) loaded.set(name, (profile = profiles(name)));
    return profile;
  };

  return store.transaction(() => {
    const module = store.getModule(request.module, request.version);
    if (!module) throw apiErrors.WF_API_NOT_FOUND({ kind: 'module', id: `${request.module}@${request.version}`, field: 'body/module' });
    const problem = configProblem(module.manifest, config);
    if (problem) {
      const param = /^config\.([^:]+):/.exec(problem)?.[1];
      throw apiErrors.WF_API_CONFIG_INVALID({ reason: problem, field: param ? `body/config/${param}` : 'body/config' });
    }

    const devices = store.listDevices({ ids: target.devices, tags: target.tags, profile: target.profile });
    if (target.devices) {
      const found = new Set(devices.map((d) => d.id));
      const missing = target.devices.find((id) => !found.has(id) && store.getDevice(id) === undefined);
      if (missing !== undefined) throw apiErrors.WF_API_NOT_FOUND({ kind: 'device', id: missing, field: 'body/target/devices' });
    }
    if (devices.length === 0) throw apiErrors.WF_API_TARGET_INVALID({ reason: 'target matches no device', field: 'body/target' });

    const id = newDeploymentId();
    const issuedAt = new Date().toISOString();
    const entry: DesiredModule = {
      name: module.name,
      version: module.version,
      sha256: module.sha256,
      size: module.size,
      deploymentId: id,
      config: effectiveConfig(module.manifest, config),
      ...(request.input !== undefined ? { input: request.input } : {}),
      ...(module.manifest.limits ? { limits: module.manifest.limits } : {}),
    };
    store.insertDeployment({ id, module: module.name, version: module.version, sha256: module.sha256, target, config, input: request.input ?? null });

    const wasm = store.moduleWasm(module.sha256);
    const changed: string[] = [];
    for (const device of devices) {
      const profile = profileOf(device.profile);
      if (request.input !== undefined && !profile.sources.some((s) => s.id === request.input)) {
        throw apiErrors.WF_API_TARGET_INVALID({
          reason: `device ${device.id} (profile ${device.profile}) has no source '${request.input}'`,
          field: 'body/input',
        });
      }
      const unfit = moduleFitProblem(profile, { manifest: module.manifest, limits: entry.limits, ...(wasm ? { wasm } : {}) });
      if (unfit) throw apiErrors.WF_API_TARGET_INVALID({ reason: `device ${device.id} (profile ${device.profile}) cannot run it: ${unfit}`, field: 'body/module' });
      const composed = composeDesired(device.id, device.desired, device.desiredRevision, entry, issuedAt);
      const overBudget = memoryBudgetProblem(
        profile,
        composed.state.modules.map((m) => grantedMemoryPages(profile, store.getModule(m.name, m.version)?.manifest ?? module.manifest, m.limits)),
      );
      if (overBudget) throw apiErrors.WF_API_TARGET_INVALID({ reason: `device ${device.id}: ${overBudget}`, field: 'body/target' });
      const allowed = Math.min(MAX_MODULES_PER_DEVICE, profile.moduleLimits.maxModules);
      if (composed.state.modules.length > allowed) {
        throw apiErrors.WF_API_TARGET_INVALID({
          reason: `device ${device.id} would run ${composed.state.modules.length} modules; profile ${device.profile} allows ${allowed}`,
          field: 'body/target',
        });
      }
      if (composed.changed) {
        store.setDesired(device.id, composed.state);
        store.supersedeOlder(device.id, module.name, id);
        store.insertDeploymentDevice({ deploymentId: id, deviceId: device.id, module: module.name, state: 'pending', reason: null, revision: composed.state.revision });
        changed.push(device.id);
      } else {
        // Already desired: this deployment inherits the progress of the one that put it there.
        const existing = store.activeDeploymentsOf(device.id).find((row) => row.module === module.name && row.sha256 === module.sha256);
        store.insertDeploymentDevice({
          deploymentId: id,
          deviceId: device.id,
          module: module.name,
          state: existing?.state ?? 'pending',
          reason: existing?.reason ?? null,
          revision: existing?.revision ?? device.desiredRevision,
        });
      }
    }
    return { id, deviceIds: devices.map((d) => d.id), changed };
  });
}
