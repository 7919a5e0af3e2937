/**
 * `wasmfleet module test DIR --fuzz N [--seed S]`: runs a built module on N random batches in the
 * sandbox the agent uses (metered, the firmware profile's limits) and reports what a fleet would
 * see: traps and aborts, budget overruns (timeouts), memory faults, outputs the agent would drop
 * as non-finite [WF-P-R-2], and outputs the manifest does not declare. Batches are random in
 * length (0 and the full capacity included) and in content (NaN, ±Infinity, -0, huge and tiny
 * values among ordinary ones), params random within the manifest's ranges. Everything follows
 * from the seed, so a finding is reproduced with the same seed.
 * Owns: generating inputs and judging outputs. Must not: build, publish or deploy.
 */
import { startMeteredSandbox } from '../../../wasm-host/metered-sandbox.js';
import { SandboxFault, type BatchOutput, type ModuleSandbox } from '../../../wasm-host/types.js';
import type { SourceLocation } from '../../../wasm-host/source-locator.js';
import { loadProfile } from '../../../firmware-profiles/index.js';
import { effectiveConfig, grantLimits, type Manifest, type ModuleConfig } from '../../../protocol/index.js';
import type { BuiltModule } from './build-module.js';
// The reference signal's mulberry32: the same sequence for a seed on every platform.
import { random as seededRandom } from '../../reference/signal.js';

export type FuzzFindingKind = 'trap' | 'abort' | 'timeout' | 'memory' | 'invalid' | 'crash' | 'non-finite' | 'undeclared';

export interface FuzzFinding {
  readonly kind: FuzzFindingKind;
  /** 0-based index of the batch among the N. */
  readonly batch: number;
  readonly samples: number;
  readonly config: ModuleConfig;
  readonly message: string;
  readonly at?: SourceLocation;
}

export interface FuzzReport {
  readonly module: string;
  readonly seed: number;
  readonly batches: number;
  /** Findings by kind, every one counted. */
  readonly counts: Partial<Record<FuzzFindingKind, number>>;
  /** The first finding of each kind, in the order found. */
  readonly examples: FuzzFinding[];
  /**
   * Non-finite outputs after the module had been fed a non-finite or huge sample (|x| > 1e150,
   * whose square overflows): garbage in, garbage out, so not a finding. The agent's sources
   * never deliver non-finite samples; it still drops such outputs and counts them as lost.
   */
  readonly nonFiniteAfterHostileInput: number;
  /**
   * Random configs the module refused at start (a rule across params the manifest cannot state,
   * such as low <= high): the fuzzer then runs the manifest's defaults. The defaults refused is a finding.
   */
  readonly configsRefused: number;
  /** One refusal's reason, for the author to check it is intended. */
  readonly configRefusal?: string;
  readonly passed: boolean;
}

export interface FuzzOptions {
  readonly batches: number;
  readonly seed?: number;
  /** Firmware profile whose module limits apply; sim-x86-64 by default. */
  readonly profile?: string;
  /** Called after each batch, for progress. */
  readonly onBatch?: (done: number) => void;
}

/** Above this a sample's square overflows to Infinity: a module's non-finite output after one is expected. */
const HOSTILE_MAGNITUDE = 1e150;

/** Batches run with one config before the module is restarted with another. */
const BATCHES_PER_CONFIG = 16;


/** Values no sensor sends but a module must survive: a batch with one of them is a hostile batch. */
const HOSTILE_VALUES = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1.7976931348623157e308, -1.7976931348623157e308, 1e300, -1e300];
/** Finite edge values that a module must handle with finite outputs. */
const EDGE_VALUES = [0, -0, 5e-324, -5e-324, 1e-310, 1e-300, -1e-300];
/** Share of batches that carry hostile values. */
const HOSTILE_BATCHES = 0.25;

function sampleValue(random: () => number, hostile: boolean): number {
  const pick = random();
  if (hostile && pick < 0.1) return HOSTILE_VALUES[Math.floor(random() * HOSTILE_VALUES.length)]!;
  if (pick < 0.15) return EDGE_VALUES[Math.floor(random() * EDGE_VALUES.length)]!;
  if (pick < 0.3) return (random() - 0.5) * 10 ** Math.floor(random() * 40 - 20);
  return (random() - 0.5) * 200;
}

function batchLength(random: () => number, capacity: number): number {
  const pick = random();
  if (pick < 0.1) return 0;
  if (pick < 0.15) return 1;
  if (pick < 0.2) return capacity;
  return 1 + Math.floor(random() * capacity);
}

/** A random value within a param's declared range (open ends get a wide but finite span). */
function paramValue(random: () => number, spec: Manifest['params'][string]): number | boolean {
  if (spec.type === 'boolean') return random() < 0.5;
  const low = spec.minimum ?? Math.min(Number(spec.default), 0) - 1e6;
  const high = spec.maximum ?? Math.max(Number(spec.default), 0) + 1e6;
  const edge = random();
  // The ends of a range are where modules break; pick them often.
  const value = edge < 0.15 ? low : edge < 0.3 ? high : edge < 0.4 ? Number(spec.default) : low + random() * (high - low);
  return spec.type === 'integer' ? Math.min(Math.floor(high), Math.max(Math.ceil(low), Math.round(value))) : value;
}

export function randomConfig(random: () => number, manifest: Manifest): ModuleConfig {
  const config: ModuleConfig = {};
  for (const [name, spec] of Object.entries(manifest.params)) config[name] = paramValue(random, spec);
  return config;
}

function outputFindings(output: BatchOutput, manifest: Manifest): { kind: FuzzFindingKind; message: string }[] {
  const found: { kind: FuzzFindingKind; message: string }[] = [];
  const metrics = new Set(manifest.metrics.map((m) => m.name));
  const events = new Set(manifest.events.map((e) => e.name));
  for (const metric of output.metrics) {
    if (!metrics.has(metric.name)) found.push({ kind: 'undeclared', message: `metric ${metric.name} is not declared in manifest.json` });
    const bad = metric.points.find(([t, v]) => !Number.isFinite(t) || !Number.isFinite(v));
    if (bad) found.push({ kind: 'non-finite', message: `metric ${metric.name} emitted [${bad[0]}, ${bad[1]}]; the agent drops non-finite outputs` });
  }
  for (const event of output.events) {
    if (!events.has(event.name)) found.push({ kind: 'undeclared', message: `event ${event.name} is not declared in manifest.json` });
    if (!Number.isFinite(event.t) || !Number.isFinite(event.value)) {
      found.push({ kind: 'non-finite', message: `event ${event.name} emitted t=${event.t} value=${event.value}; the agent drops non-finite outputs` });
    }
  }
  return found;
}

export async function fuzzModule(built: BuiltModule, options: FuzzOptions): Promise<FuzzReport> {
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  const random = seededRandom(seed);
  const profile = loadProfile(options.profile ?? 'sim-x86-64');
  const capacity = profile.batch.maxSamples;
  const limits = grantLimits(profile.moduleLimits, built.manifest.limits);
  const counts: Partial<Record<FuzzFindingKind, number>> = {};
  const examples: FuzzFinding[] = [];
  const note = (finding: FuzzFinding): void => {
    counts[finding.kind] = (counts[finding.kind] ?? 0) + 1;
    if (!examples.some((e) => e.kind === finding.kind)) examples.push(finding);
  };

  let nonFiniteAfterHostileInput = 0;
  let configsRefused = 0;
  let configRefusal: string | undefined;
  const start = (with_: ModuleConfig) =>
    startMeteredSandbox({ wasm: built.bytes, manifest: built.manifest, config: effectiveConfig(built.manifest, with_), limits, batchCapacity: capacity });
  /** Whether this sandbox has seen a sample that makes a non-finite output expected. */
  let tainted = false;
  let sandbox: ModuleSandbox | undefined;
  let config: ModuleConfig = {};
  let sinceStart = 0;
  let time = Date.UTC(2026, 0, 1);
  for (let batch = 0; batch < options.batches; batch++) {
    if (!sandbox || sinceStart >= BATCHES_PER_CONFIG) {
      await sandbox?.close();
      sandbox = undefined;
      sinceStart = 0;
      tainted = false;
      config = randomConfig(random, built.manifest);
      try {
        sandbox = await start(config);
      } catch (refused) {
        try {
          sandbox = await start({});
        } catch (error) {
          // The module cannot start at all (e.g. it declares an output the manifest lacks): every
          // later batch would fail the same way, so this one finding is the report.
          note(faultFinding(error, batch, 0, {}));
          break;
        }
        configsRefused += 1;
        configRefusal ??= `${faultFinding(refused, batch, 0, config).message} (config ${JSON.stringify(config)})`;
        config = {};
      }
    }
    sinceStart += 1;
    const length = batchLength(random, capacity);
    const hostile = random() < HOSTILE_BATCHES;
    const timestamps = new Float64Array(length);
    const values = new Float64Array(length);
    for (let i = 0; i < length; i++) {
      time += 1 + Math.floor(random() * 1000);
      timestamps[i] = time;
      values[i] = sampleValue(random, hostile);
      if (!(Math.abs(values[i]!) <= HOSTILE_MAGNITUDE)) tainted = true;
    }
    try {
      const output = await sandbox.process(timestamps, values);
      const found = outputFindings(output, built.manifest);
      for (const finding of found) if (finding.kind !== 'non-finite' || !tainted) note({ ...finding, batch, samples: length, config });
      if (tainted && found.some((f) => f.kind === 'non-finite')) nonFiniteAfterHostileInput += 1;
      // A module's state after hostile input is garbage by right: later batches start clean.
      if (tainted) sinceStart = BATCHES_PER_CONFIG;
    } catch (error) {
      note(faultFinding(error, batch, length, config));
      await sandbox.close();
      sandbox = undefined;
    }
    options.onBatch?.(batch + 1);
  }
  await sandbox?.close();
  return { module: `${built.manifest.name}@${built.manifest.version}`, seed, batches: options.batches, counts, examples, nonFiniteAfterHostileInput,
    configsRefused,
    ...(configRefusal !== undefined ? { configRefusal } : {}),
    passed: examples.length === 0,
  };
}

function faultFinding(error: unknown, batch: number, samples: number, config: ModuleConfig): FuzzFinding {
  if (!(error instanceof SandboxFault)) throw error;
  return { kind: error.kind, batch, samples, config, message: error.message, ...(error.at ? { at: error.at } : {}) };
}
