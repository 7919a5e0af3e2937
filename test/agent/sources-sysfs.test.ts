/**
 * sysfs source kinds against a temp folder laid out like /sys: thermal zones in millidegrees,
 * IIO channels with raw/scale/offset (own or shared by the channel type) and processed inputs,
 * lookup by label, and sensors that are missing, unreadable or appear later.
 */
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createSource, type Source } from '../../device-agent/sources/index.js';
import type { SourceConfig } from '../../firmware-profiles/index.js';
import { tempDir, until } from './helpers.js';
import { sourceConfig } from './source-helpers.js';

function put(root: string, path: string, text: string): void {
  mkdirSync(join(root, path, '..'), { recursive: true });
  writeFileSync(join(root, path), text);
}

async function started(t: { after(fn: () => void): void }, config: SourceConfig): Promise<Source> {
  const source = await createSource(config);
  source.start(Date.now());
  t.after(() => source.stop());
  return source;
}

async function samples(source: Source, count: number): Promise<number[]> {
  const values: number[] = [];
  await until(() => {
    const block = source.take(Date.now(), 1000);
    if (block) values.push(...block.values);
    return values.length >= count;
  }, 5000, `${count} samples from ${source.id}`);
  return values;
}

test('a thermal zone is read in millidegrees, by number or by its type', async (t) => {
  const root = tempDir(t);
  put(root, 'class/thermal/thermal_zone0/type', 'acpitz\n');
  put(root, 'class/thermal/thermal_zone0/temp', '27800\n');
  put(root, 'class/thermal/thermal_zone1/type', 'cpu-thermal\n');
  put(root, 'class/thermal/thermal_zone1/temp', '48312\n');

  const byNumber = await started(t, sourceConfig({ kind: 'sysfs-thermal', id: 'board', zone: 0, rateHz: 50, root }));
  const byType = await started(t, sourceConfig({ kind: 'sysfs-thermal', id: 'cpu', zone: 'cpu-thermal', rateHz: 50, root }));
  assert.equal((await samples(byNumber, 2))[0], 27.8);
  const cpu = await samples(byType, 2);
  assert.equal(cpu[0], 48.312);
  const block = byType.take(Date.now() + 1000, 1);
  if (block) assert.ok(block.firstSeq >= 2, 'sequence numbers continue across takes');
  assert.equal(byType.stats?.().badInput, 0);
});

test('a missing zone is counted and retried; it is read once it appears, garbage is counted', async (t) => {
  const root = tempDir(t);
  const source = await started(t, sourceConfig({ kind: 'sysfs-thermal', id: 'cpu', zone: 'cpu-thermal', rateHz: 100, root }));
  await until(() => (source.stats?.().badInput ?? 0) >= 2, 5000, 'missing zone counted');
  assert.equal(source.take(Date.now(), 10), undefined);

  put(root, 'class/thermal/thermal_zone3/type', 'cpu-thermal');
  put(root, 'class/thermal/thermal_zone3/temp', 'garbage');
  const badBefore = source.stats!().badInput;
  await until(() => source.stats!().badInput > badBefore + 2, 5000, 'unreadable value counted');
  put(root, 'class/thermal/thermal_zone3/temp', '51000');
  assert.equal((await samples(source, 1))[0], 51);

  rmSync(join(root, 'class'), { recursive: true });
  const badNow = source.stats!().badInput;
  await until(() => source.stats!().badInput > badNow, 5000, 'zone gone counted');
});

test('IIO: (raw + offset) × scale, type-shared scale, processed input, lookup by name', async (t) => {
  const root = tempDir(t);
  const dev0 = 'bus/iio/devices/iio:device0';
  put(root, `${dev0}/name`, 'ti-am335x-adc\n');
  put(root, `${dev0}/in_voltage0_raw`, '2048\n');
  put(root, `${dev0}/in_voltage_scale`, '0.439453125\n'); // shared by every voltage channel
  put(root, `${dev0}/in_temp_raw`, '1000');
  put(root, `${dev0}/in_temp_offset`, '-500');
  put(root, `${dev0}/in_temp_scale`, '2');
  const dev1 = 'bus/iio/devices/iio:device1';
  put(root, `${dev1}/name`, 'bme280');
  put(root, `${dev1}/in_humidityrelative_input`, '45250');

  const adc = await started(t, sourceConfig({ kind: 'sysfs-iio', id: 'adc', device: 'iio:device0', channel: 'voltage0', rateHz: 50, root }));
  const temp = await started(t, sourceConfig({ kind: 'sysfs-iio', id: 'temp', device: 'ti-am335x-adc', channel: 'temp', rateHz: 50, root, factor: 0.5 }));
  const humidity = await started(t, sourceConfig({ kind: 'sysfs-iio', id: 'rh', device: 'bme280', channel: 'humidityrelative', rateHz: 50, root, factor: 0.001 }));
  assert.equal((await samples(adc, 1))[0], 2048 * 0.439453125);
  assert.equal((await samples(temp, 1))[0], (1000 - 500) * 2 * 0.5);
  assert.equal((await samples(humidity, 1))[0], 45.25);

  const missing = await started(t, sourceConfig({ kind: 'sysfs-iio', id: 'none', device: 'bme280', channel: 'pressure', rateHz: 100, root }));
  await until(() => (missing.stats?.().badInput ?? 0) >= 1, 5000, 'missing channel counted');
  assert.equal(missing.take(Date.now(), 10), undefined);
});

test('sysfs source configs are validated with the field named', () => {
  assert.throws(() => sourceConfig({ kind: 'sysfs-thermal', id: 'cpu', zone: 'bad zone!', rateHz: 1 }), /WF_PROFILE_INVALID|sources\/0/);
  assert.throws(() => sourceConfig({ kind: 'sysfs-iio', id: 'x', device: 'iio:device0', rateHz: 1 }), /sources\/0/);
  assert.equal((sourceConfig({ kind: 'sysfs-thermal', id: 'cpu', zone: 0, rateHz: 1 }) as { root: string }).root, '/sys');
});
