/**
 * Whether a module can run under a firmware profile: the one rule the API applies at deploy time
 * (devices record their profile) and the agent applies before instantiating, so both refuse with
 * the same words. Limits a module or deployment *requests* are maxima and only lower what the
 * profile grants; what a module *needs* and the profile cannot give is refused here:
 *  - the initial memory its binary declares for `env.memory` above the pages it would be granted
 *    (the profile's ceiling, lowered by its own and its deployment's requests; instantiation
 *    would fail on every start);
 *  - its tables and compiled code (wasm-host/footprint.ts): over the caps every device enforces,
 *    or leaving less linear memory than its binary needs once charged to the pages it would be
 *    granted (the sandbox charges them the same way, so the agent and the API agree);
 *  - an input source the profile does not have;
 *  - on one device, the granted memory of all its modules together above the profile's budget
 *    (the API checks the whole desired state; the agent each module against those running).
 */
import { grantLimits, importedMemoryMinimum, type Manifest, type ModuleLimits } from '../protocol/index.js';
import { checkFootprint, linearMemoryPages } from '../wasm-host/footprint.js';
import type { FirmwareProfile } from './schema.js';

const PAGE_BYTES = 65536;
const MIB = 1048576;

export interface ModuleDemand {
  readonly manifest: Manifest;
  /** The module binary; without it the memory minimum is not checked. */
  readonly wasm?: Uint8Array;
  /** The deployment's requested limits (the desired state's `limits`). */
  readonly limits?: ModuleLimits | undefined;
  /** The source the deployment names; undefined means the profile's first source. */
  readonly input?: string;
  /** Pages granted to the modules already running beside it; with them it must fit the budget. */
  readonly alongside?: readonly number[];
}

/**
 * Why a module cannot run under a profile, as data: which part of the demand is at fault, and
 * the reason in words made from it.
 *  - `input`: the source it names is not the profile's;
 *  - `limits/memoryPages`: a requested memoryPages limit grants less than its binary needs;
 *  - `wasm`: its binary needs more memory than the profile's ceiling, or its tables and code
 *    overstep a cap or leave too little of that memory;
 *  - `alongside`: it does not fit the memory budget beside the modules already running.
 */
export interface FitRefusal {
  readonly field: 'input' | 'limits/memoryPages' | 'wasm' | 'alongside';
  readonly reason: string;
}

/** Pages of linear memory the module would be granted (protocol's grantLimits). */
export const grantedMemoryPages = (profile: FirmwareProfile, manifest: Manifest, limits?: ModuleLimits): number =>
  grantLimits(profile.moduleLimits, manifest.limits, limits).memoryPages;

const pagesText = (pages: number): string => `${pages} pages (${(pages * PAGE_BYTES) / 1024} KiB)`;

/** Whether the profile has the named source; undefined names its first, which every profile has. */
export const hasSource = (profile: FirmwareProfile, input: string | undefined): boolean =>
  input === undefined || profile.sources.some((source) => source.id === input);

/** Why `demand` cannot run under `profile`, or undefined when it can. */
export function moduleFit(profile: FirmwareProfile, demand: ModuleDemand): FitRefusal | undefined {
  const { manifest } = demand;
  const who = `${manifest.name}@${manifest.version}`;
  if (!hasSource(profile, demand.input)) {
    return {
      field: 'input',
      reason: `${who} needs input source '${demand.input}', which profile ${profile.name} does not have (has: ${profile.sources.map((s) => s.id).join(', ')})`,
    };
  }
  const granted = grantedMemoryPages(profile, manifest, demand.limits);
  if (demand.wasm) {
    const minimum = importedMemoryMinimum(demand.wasm);
    const requested = granted < profile.moduleLimits.memoryPages;
    const why = requested ? 'its requested memoryPages limit' : `profile ${profile.name}'s ceiling`;
    const memoryField = requested ? 'limits/memoryPages' : 'wasm';
    if (minimum !== undefined && minimum > granted) {
      return { field: memoryField, reason: `${who} needs at least ${pagesText(minimum)} of memory; it would be granted ${pagesText(granted)} (${why})` };
    }
    // A binary whose sections cannot be read is no question of fit: validation refuses it, with its own reason.
    const checked = checkFootprint(demand.wasm);
    if ('reason' in checked) {
      if (checked.limit !== 'binary') return { field: 'wasm', reason: `${who}: ${checked.reason}` };
    } else {
      const left = linearMemoryPages(checked.footprint, granted, minimum ?? 1);
      if ('reason' in left) return { field: memoryField, reason: `${who}: ${left.reason} (${why})` };
    }
  }
  if (demand.alongside !== undefined) {
    const overBudget = memoryBudgetProblem(profile, [...demand.alongside, granted]);
    if (overBudget) return { field: 'alongside', reason: `${who} does not fit beside the modules already running: ${overBudget}` };
  }
  return undefined;
}

/** moduleFit's reason alone, for callers that only report it. */
export const moduleFitProblem = (profile: FirmwareProfile, demand: ModuleDemand): string | undefined => moduleFit(profile, demand)?.reason;

/** Why the modules of one device (their granted pages) overrun the profile's memory budget. */
export function memoryBudgetProblem(profile: FirmwareProfile, grantedPages: readonly number[]): string | undefined {
  const total = grantedPages.reduce((sum, pages) => sum + pages, 0);
  const budget = profile.moduleLimits.memoryBudgetMiB;
  if (total * PAGE_BYTES <= budget * MIB) return undefined;
  return `${grantedPages.length} modules would be granted ${((total * PAGE_BYTES) / MIB).toFixed(2)} MiB of memory together; profile ${profile.name} budgets ${budget} MiB`;
}
