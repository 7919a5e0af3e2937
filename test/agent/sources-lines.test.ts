/**
 * Line-based sources on real parts: a FIFO made with mkfifo stands in for a serial port, a
 * node:dgram client sends UDP datagrams. Bad and over-long lines are counted and ignored; the
 * parse formats (number, csv column, JSON field) are checked on their own too.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { LineSplitter, parseValue } from '../../device-agent/sources/line-format.js';
import { createSource } from '../../device-agent/sources/index.js';
import { createUdpSource } from '../../device-agent/sources/udp.js';
import type { UdpSource } from '../../firmware-profiles/index.js';
import { tempDir, until } from './helpers.js';
import { drain, sourceConfig } from './source-helpers.js';

test('parse formats: number, csv column, JSON field path; bad text is a reason, not a throw', () => {
  assert.deepEqual(parseValue(' 21.5 \r', { format: 'number' }), { ok: true, value: 21.5 });
  assert.equal(parseValue('21.5x', { format: 'number' }).ok, false);
  assert.deepEqual(parseValue('1700000000,3.25,ok', { format: 'csv', column: 1, separator: ',' }), { ok: true, value: 3.25 });
  assert.match(JSON.stringify(parseValue('1,2', { format: 'csv', column: 5, separator: ',' })), /no column 5/);
  const z2m = '{"battery":97,"humidity":48.1,"linkquality":134,"temperature":22.65,"voltage":2985}';
  assert.deepEqual(parseValue(z2m, { format: 'json', field: 'temperature' }), { ok: true, value: 22.65 });
  assert.deepEqual(parseValue('{"s":[{"v":1},{"v":"7.5"}]}', { format: 'json', field: 's.1.v' }), { ok: true, value: 7.5 });
  assert.match(JSON.stringify(parseValue(z2m, { format: 'json', field: 'pressure' })), /no field 'pressure'/);
  assert.match(JSON.stringify(parseValue('{"temperature":null}', { format: 'json', field: 'temperature' })), /not a finite number/);
  assert.match(JSON.stringify(parseValue('{oops', { format: 'json', field: 'a' })), /not JSON/);

  const lines: string[] = [];
  let tooLong = 0;
  const splitter = new LineSplitter(8, (line) => lines.push(line), () => (tooLong += 1));
  splitter.push(Buffer.from('1\r\n2'));
  splitter.push(Buffer.from('3\n0123456789abc'));
  splitter.push(Buffer.from('def\n4\n5'));
  splitter.end();
  assert.deepEqual(lines, ['1', '23', '4', '5']);
  assert.equal(tooLong, 1);
});

test('serial: a FIFO is read line by line, bad lines counted, reopened after its writer leaves', async (t) => {
  const dir = tempDir(t);
  const fifo = join(dir, 'ttyFAKE0');
  const made = spawnSync('mkfifo', [fifo]);
  assert.equal(made.status, 0, `mkfifo: ${made.stderr}`);
  const source = await createSource(sourceConfig({ kind: 'serial', id: 'serial', path: fifo, reopenMs: 20, scale: 0.1, maxLineBytes: 32 }));
  source.start(Date.now());
  t.after(() => source.stop());

  // O_RDWR never blocks on a FIFO, and keeps a writer on it while the test writes.
  const writer = openSync(fifo, constants.O_RDWR);
  writeSync(writer, '215\nnot-a-number\n');
  writeSync(writer, '216\n' + 'x'.repeat(100) + '\n21');
  writeSync(writer, '7\n');
  const values: number[] = [];
  await until(() => (values.push(...drain(source)), values.length >= 3), 5000, 'three samples');
  assert.deepEqual(values.map((v) => Math.round(v * 10) / 10), [21.5, 21.6, 21.7]);
  assert.equal(source.stats?.().badInput, 2, 'one unreadable and one over-long line');
  closeSync(writer);

  // The writer left (EOF); the source reopens and reads the next one.
  await new Promise((resolve) => setTimeout(resolve, 100));
  const again = openSync(fifo, constants.O_RDWR);
  t.after(() => closeSync(again));
  writeSync(again, '300\n');
  await until(() => (values.push(...drain(source)), values.length >= 4), 5000, 'a sample after reopening');
  assert.equal(values[3], 30);
});

test('serial: a missing device is retried, not fatal', async (t) => {
  const dir = tempDir(t);
  const source = await createSource(sourceConfig({ kind: 'serial', id: 'serial', path: join(dir, 'ttyUSB9'), reopenMs: 20 }));
  source.start(Date.now());
  t.after(() => source.stop());
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(source.take(Date.now(), 10), undefined);
  spawnSync('mkfifo', [join(dir, 'ttyUSB9')]);
  const writer = openSync(join(dir, 'ttyUSB9'), constants.O_RDWR);
  t.after(() => closeSync(writer));
  writeSync(writer, '42\n');
  const values: number[] = [];
  await until(() => (values.push(...drain(source)), values.length >= 1), 5000, 'sample once the device exists');
  assert.deepEqual(values, [42]);
});

test('udp: every line of every datagram is a sample; bad lines are counted', async (t) => {
  const config = sourceConfig({ kind: 'udp', id: 'udp', port: 0, parse: { format: 'csv', column: 1 }, maxBuffered: 16 }) as UdpSource;
  const source = await createUdpSource(config, (await import('../../common/logger.js')).silentLogger);
  source.start(Date.now());
  t.after(() => source.stop());
  await until(() => source.boundPort() !== undefined, 5000, 'udp bound');
  const sender = createSocket('udp4');
  t.after(() => sender.close());
  const send = (text: string) => new Promise<void>((resolve, reject) => sender.send(text, source.boundPort()!, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
  await send('plc1,1.5\nplc1,2.5\n');
  await send('plc1,oops\ngarbage\n');
  await send('plc2,3.5');
  const values: number[] = [];
  await until(() => (values.push(...drain(source)), values.length >= 3), 5000, 'three udp samples');
  assert.deepEqual(values, [1.5, 2.5, 3.5]);
  assert.equal(source.stats().badInput, 2);

  // Past maxBuffered the oldest samples are dropped and counted.
  await send(Array.from({ length: 40 }, (_, i) => `p,${i}`).join('\n'));
  await until(() => source.stats().dropped === 24, 5000, 'overflow counted');
  const kept = drain(source);
  assert.equal(kept.length, 16);
  assert.equal(kept[0], 24);
});
