/**
 * Linux sensors read from sysfs: thermal zones (`class/thermal/thermal_zoneN/temp`, millidegrees
 * Celsius) and IIO channels (`bus/iio/devices/iio:deviceN/in_<channel>_raw` with `_scale` and
 * `_offset`, or the processed `in_<channel>_input`). The sysfs root is configurable so tests
 * read a folder laid out like sysfs; a gateway reads /sys.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../common/logger.js';
import type { IioSource, ThermalSource } from '../../firmware-profiles/index.js';
import { sourceErrors } from './errors.js';
import { createPolledSource, type Reading } from './polled.js';
import type { Source } from './source.js';

/** sysfs files are tiny; anything bigger is not the file we want. */
const MAX_SYSFS_BYTES = 256;

async function readText(path: string): Promise<string> {
  const text = (await readFile(path, 'utf8')).slice(0, MAX_SYSFS_BYTES);
  return text.trim();
}

async function readNumber(path: string): Promise<number> {
  const text = await readText(path);
  const value = Number(text);
  if (text === '' || !Number.isFinite(value)) throw new Error(`${path} holds '${text.slice(0, 32)}', not a number`);
  return value;
}

async function optionalNumber(path: string): Promise<number | undefined> {
  try {
    return await readNumber(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** The entry of `dir` named `prefix<N>` whose `file` says `wanted`, or the one named `exact`. */
async function findByLabel(dir: string, prefix: string, file: string, wanted: string): Promise<string | undefined> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return undefined;
  }
  for (const entry of entries.filter((e) => e.startsWith(prefix)).sort()) {
    try {
      if ((await readText(join(dir, entry, file))) === wanted) return join(dir, entry);
    } catch {
      // An entry without that file is simply not the one.
    }
  }
  return undefined;
}

export function createThermalSource(config: ThermalSource, logger: Logger): Source {
  const root = config.root ?? '/sys';
  const zonesDir = join(root, 'class', 'thermal');
  const locate = async (): Promise<Reading> => {
    const zoneDir =
      typeof config.zone === 'number'
        ? join(zonesDir, `thermal_zone${config.zone}`)
        : await findByLabel(zonesDir, 'thermal_zone', 'type', config.zone);
    if (zoneDir === undefined) {
      throw sourceErrors.WF_SOURCE_NOT_FOUND({ source: config.id, kind: config.kind, what: 'thermal zone type', wanted: config.zone, root: zonesDir, field: 'zone' });
    }
    const path = join(zoneDir, 'temp');
    try {
      await readNumber(path);
    } catch (error) {
      throw sourceErrors.WF_SOURCE_UNAVAILABLE({ source: config.id, kind: config.kind, what: path, reason: (error as Error).message, retryMs: Math.round(1000 / config.rateHz), field: 'zone' });
    }
    // The kernel reports millidegrees Celsius.
    return async () => (await readNumber(path)) / 1000;
  };
  return createPolledSource({ id: config.id, kind: config.kind, rateHz: config.rateHz, logger, locate });
}

export function createIioSource(config: IioSource, logger: Logger): Source {
  const root = config.root ?? '/sys';
  const devicesDir = join(root, 'bus', 'iio', 'devices');
  const factor = config.factor ?? 1;
  // `voltage0` shares `in_voltage_scale` with its siblings when it has no scale of its own.
  const type = config.channel.replace(/\d+$/, '');
  const locate = async (): Promise<Reading> => {
    const deviceDir = /^iio:device\d+$/.test(config.device)
      ? join(devicesDir, config.device)
      : await findByLabel(devicesDir, 'iio:device', 'name', config.device);
    if (deviceDir === undefined) {
      throw sourceErrors.WF_SOURCE_NOT_FOUND({ source: config.id, kind: config.kind, what: 'IIO device name', wanted: config.device, root: devicesDir, field: 'device' });
    }
    const file = (suffix: string, of = config.channel) => join(deviceDir, `in_${of}_${suffix}`);
    const channelOrType = async (suffix: string): Promise<number | undefined> =>
      (await optionalNumber(file(suffix))) ?? (type !== config.channel ? await optionalNumber(file(suffix, type)) : undefined);
    try {
      const raw = await optionalNumber(file('raw'));
      if (raw !== undefined) {
        // IIO ABI: value = (raw + offset) × scale; a channel without them has offset 0, scale 1.
        const scale = (await channelOrType('scale')) ?? 1;
        const offset = (await channelOrType('offset')) ?? 0;
        return async () => ((await readNumber(file('raw'))) + offset) * scale * factor;
      }
      const processed = await optionalNumber(file('input'));
      if (processed !== undefined) return async () => (await readNumber(file('input'))) * factor;
    } catch (error) {
      throw sourceErrors.WF_SOURCE_UNAVAILABLE({ source: config.id, kind: config.kind, what: deviceDir, reason: (error as Error).message, retryMs: Math.round(1000 / config.rateHz), field: 'channel' });
    }
    throw sourceErrors.WF_SOURCE_NOT_FOUND({ source: config.id, kind: config.kind, what: 'channel file in_<channel>_raw or _input for channel', wanted: config.channel, root: deviceDir, field: 'channel' });
  };
  return createPolledSource({ id: config.id, kind: config.kind, rateHz: config.rateHz, logger, locate });
}
