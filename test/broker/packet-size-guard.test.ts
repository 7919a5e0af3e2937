import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PacketSizeScanner } from '../../broker/packet-size-guard.js';

/** Encodes an MQTT Remaining Length (§2.2.3). */
function remainingLength(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}

/** A PUBLISH-typed packet of the given body length. */
const packet = (bodyBytes: number): Buffer =>
  Buffer.concat([Buffer.from([0x30, ...remainingLength(bodyBytes)]), Buffer.alloc(bodyBytes, 7)]);

test('packets within the limit pass, one per chunk or many per chunk', () => {
  const scanner = new PacketSizeScanner(1000);
  assert.deepEqual(scanner.scan(packet(10)), { ok: true });
  assert.deepEqual(scanner.scan(Buffer.concat([packet(0), packet(200), packet(997 - 3)])), { ok: true });
  assert.deepEqual(scanner.scan(Buffer.from([0xc0, 0x00])), { ok: true }); // PINGREQ
});

test('the limit counts the whole packet: fixed header plus remaining length', () => {
  // body 997 + 1 type byte + 2 length bytes = 1000
  assert.deepEqual(new PacketSizeScanner(1000).scan(packet(997)), { ok: true });
  const verdict = new PacketSizeScanner(1000).scan(packet(998));
  assert.equal(verdict.ok, false);
  assert.equal(!verdict.ok && verdict.reason, 'too-large');
  assert.equal(!verdict.ok && verdict.packetBytes, 1001);
});

test('oversize is detected from the header alone, before any body byte arrives', () => {
  const scanner = new PacketSizeScanner(1024);
  // Declares 200 MiB but sends only the 5 header bytes.
  const header = Buffer.from([0x30, ...remainingLength(200 * 1024 * 1024)]);
  const verdict = scanner.scan(header);
  assert.equal(verdict.ok, false);
  assert.equal(!verdict.ok && verdict.packetBytes, 1 + 4 + 200 * 1024 * 1024);
});

test('a header split across chunks at every possible byte is still read correctly', () => {
  const stream = Buffer.concat([packet(100), packet(20000), packet(5), packet(128), packet(16383), packet(16384)]);
  for (let cut = 1; cut < 40; cut++) {
    const scanner = new PacketSizeScanner(20010);
    for (let at = 0; at < stream.length; at += cut) {
      assert.deepEqual(scanner.scan(stream.subarray(at, at + cut)), { ok: true }, `cut ${cut} at ${at}`);
    }
  }
  // The same stream byte by byte against a limit the 20000-byte packet exceeds.
  const scanner = new PacketSizeScanner(20000);
  let failedAt = -1;
  for (let at = 0; at < stream.length && failedAt < 0; at++) {
    if (!scanner.scan(stream.subarray(at, at + 1)).ok) failedAt = at;
  }
  // 100-byte packet is 102 bytes; the next header is 0x30 + 3 length bytes; fails on the last one.
  assert.equal(failedAt, 102 + 3);
});

test('safeBytes marks where the offending packet starts within the chunk', () => {
  const scanner = new PacketSizeScanner(500);
  const chunk = Buffer.concat([packet(10), packet(20), packet(600)]);
  const verdict = scanner.scan(chunk);
  assert.equal(verdict.ok, false);
  assert.equal(!verdict.ok && verdict.safeBytes, 12 + 22);
});

test('safeBytes is 0 when the offending header began in an earlier chunk', () => {
  const scanner = new PacketSizeScanner(500);
  const bytes = packet(600);
  assert.deepEqual(scanner.scan(bytes.subarray(0, 2)), { ok: true });
  const verdict = scanner.scan(bytes.subarray(2, 3));
  assert.equal(!verdict.ok && verdict.safeBytes, 0);
});

test('a fifth length byte is malformed (§2.2.3) and the verdict sticks', () => {
  const scanner = new PacketSizeScanner(Number.MAX_SAFE_INTEGER);
  const verdict = scanner.scan(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]));
  assert.equal(!verdict.ok && verdict.reason, 'malformed-length');
  assert.equal(scanner.scan(packet(1)).ok, false);
});

test('a four-byte length of the MQTT maximum is well-formed', () => {
  const scanner = new PacketSizeScanner(Number.MAX_SAFE_INTEGER);
  assert.deepEqual(scanner.scan(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f])), { ok: true });
});

test('the scanner refuses a nonsensical limit', () => {
  assert.throws(() => new PacketSizeScanner(0), RangeError);
});
