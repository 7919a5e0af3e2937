/**
 * The hub's site document (HubSite, wf/v1/hubs/{H}/site [WF-P-T-9]): the latest revision the API
 * published, kept in memory for the credential checks and on disk so a hub restarted during an
 * outage still admits its devices and still refuses the ones it last heard were removed.
 *
 * Owns: validating a site payload, the revision floor, the file. Must not: fetch anything, or
 * trust a document for another hub or at/below the revision it holds.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../device-agent/state/atomic-file.js';
import { reasonOf, type WasmfleetError } from '../common/errors.js';
import { describeProblems, schemaProblems } from '../common/validate.js';
import { HubSiteSchema, type HubSite } from '../protocol/hubs.js';
import { hubErrors } from './errors.js';

/** A HubSite names at most 10,000 devices and 256 hubs; a few hundred bytes each. */
const MAX_SITE_BYTES = 8 * 1024 * 1024;
const SITE_FILE = 'site.json';

export type SiteOffer =
  | {
      readonly ok: true;
      readonly site: HubSite;
      readonly removedDevices: readonly string[];
      readonly removedHubs: readonly string[];
      /** Still listed, but the secret they were admitted with no longer works (rotated without grace): their sessions must end. */
      readonly revokedDevices: readonly string[];
      readonly revokedHubs: readonly string[];
    }
  | { readonly ok: false; readonly error: WasmfleetError };

export class SiteStore {
  #site: HubSite | undefined;
  readonly #path: string;
  readonly #hubId: string;

  private constructor(hubId: string, path: string, site: HubSite | undefined) {
    this.#hubId = hubId;
    this.#path = path;
    this.#site = site;
  }

  /** Loads the document the hub held when it stopped; a missing or unreadable file means none (counted by the caller's log). */
  static open(hubId: string, dataDir: string): { store: SiteStore; problem?: string } {
    const path = join(dataDir, SITE_FILE);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { store: new SiteStore(hubId, path, undefined) };
      return { store: new SiteStore(hubId, path, undefined), problem: reasonOf(error) };
    }
    const checked = checkSite(hubId, Buffer.from(text));
    if (!checked.ok) return { store: new SiteStore(hubId, path, undefined), problem: checked.error.message };
    return { store: new SiteStore(hubId, path, checked.site) };
  }

  get current(): HubSite | undefined {
    return this.#site;
  }

  get revision(): number {
    return this.#site?.revision ?? 0;
  }

  /**
   * Accepts a newer document for this hub: written to disk first (so what the hub enforces is what
   * it restarts with), then in force. Returns who was removed since the previous revision.
   */
  async offer(payload: Buffer): Promise<SiteOffer> {
    const checked = checkSite(this.#hubId, payload);
    if (!checked.ok) return checked;
    const site = checked.site;
    if (site.revision <= this.revision) return { ok: false, error: hubErrors.WF_HUB_SITE_STALE({ revision: site.revision, held: this.revision }) };
    try {
      await writeFileAtomic(this.#path, payload);
    } catch (error) {
      return { ok: false, error: hubErrors.WF_HUB_STORE_FAILED({ what: 'site document', path: this.#path, reason: reasonOf(error) }) };
    }
    const before = this.#site;
    // A newer revision may have arrived while this one was being written; never go back.
    if (site.revision <= this.revision) return { ok: false, error: hubErrors.WF_HUB_SITE_STALE({ revision: site.revision, held: this.revision }) };
    this.#site = site;
    const devices = new Set(site.devices.map((device) => device.deviceId));
    const hubs = new Set(site.hubs.map((hub) => hub.hubId));
    return {
      ok: true,
      site,
      removedDevices: (before?.devices ?? []).map((device) => device.deviceId).filter((id) => !devices.has(id)),
      removedHubs: (before?.hubs ?? []).map((hub) => hub.hubId).filter((id) => !hubs.has(id)),
      revokedDevices: revokedBetween(before?.devices ?? [], site.devices, (device) => device.deviceId),
      revokedHubs: revokedBetween(before?.hubs ?? [], site.hubs, (hub) => hub.hubId),
    };
  }
}

interface Credentialed {
  readonly current: string;
  readonly previous?: string;
}

/** Listed in both, and the old current hash is neither the new current nor the new previous one. */
function revokedBetween<T extends Credentialed>(before: readonly T[], after: readonly T[], idOf: (entry: T) => string): string[] {
  const now = new Map(after.map((entry) => [idOf(entry), entry]));
  return before
    .filter((old) => {
      const next = now.get(idOf(old));
      return next !== undefined && next.current !== old.current && next.previous !== old.current;
    })
    .map(idOf);
}

function checkSite(hubId: string, payload: Buffer): { ok: true; site: HubSite } | { ok: false; error: WasmfleetError } {
  if (payload.byteLength > MAX_SITE_BYTES) return { ok: false, error: hubErrors.WF_HUB_SITE_REFUSED({ reason: `${payload.byteLength} bytes, over ${MAX_SITE_BYTES}` }) };
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload.toString('utf8'));
  } catch (error) {
    return { ok: false, error: hubErrors.WF_HUB_SITE_REFUSED({ reason: `not JSON: ${reasonOf(error)}` }) };
  }
  const problems = schemaProblems(HubSiteSchema, parsed);
  if (problems.length > 0) return { ok: false, error: hubErrors.WF_HUB_SITE_REFUSED({ reason: describeProblems(problems), field: problems[0]?.field }) };
  const site = parsed as HubSite;
  if (site.hubId !== hubId) return { ok: false, error: hubErrors.WF_HUB_SITE_REFUSED({ reason: `document for hub '${site.hubId}'`, field: 'hubId' }) };
  return { ok: true, site };
}
