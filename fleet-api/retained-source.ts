/** Builds every retained message from SQLite, so the broker's retained store is always derivable. */
import { PROTOCOL_VERSION, type ModuleEnvelope } from '../protocol/index.js';
import type { RetainedSource } from './retained-publisher.js';
import type { Store } from './store/index.js';
import { buildHubSite } from './hubs/site.js';

export function retainedSource(store: Store): RetainedSource {
  return {
    moduleShas: () => (store.open ? store.moduleShas() : []),
    moduleEnvelope(sha256): ModuleEnvelope | undefined {
      if (!store.open) return undefined;
      const module = store.moduleBySha(sha256);
      const wasm = store.moduleWasm(sha256);
      if (!module || !wasm) return undefined;
      return { v: PROTOCOL_VERSION, manifest: module.manifest, sha256, size: module.size, wasm: wasm.toString('base64'), signatures: module.signatures };
    },
    deviceIds: () => (store.open ? store.deviceIds() : []),
    deviceIdsWithDesired: () => (store.open ? store.deviceIdsWithDesired() : []),
    // Read per publish, so only the desired column: not the device's tags and reported state too.
    desiredState: (deviceId) => (store.open ? (store.desiredStateOf(deviceId) ?? null) : null),
    hubIds: () => (store.open ? store.listHubs().map((hub) => hub.id) : []),
    hubSite(hubId) {
      if (!store.open) return undefined;
      const revision = store.nextSiteRevision(hubId);
      return revision === undefined ? undefined : buildHubSite(store, hubId, revision);
    },
  };
}
