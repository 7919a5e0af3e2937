/**
 * The process the kill -9 test kills: custody on a directory, fed result payloads as fast as it
 * takes them (several at once, so fdatasyncs are shared), forwarding to an upstream double that
 * acknowledges every third seq. It prints one JSON line per acknowledgement it gave a device
 * (`acked`) and per upstream ack it applied (`up`), only after custody resolved it. Bounded: it
 * stops by itself after `maxBatches` or 60 s.
 *
 *   node custody-child.js DIR ROUND
 */
import { writeSync } from 'node:fs';
import { createLogger } from '../../../common/logger.js';
import { openResultCustody } from '../../../hub/custody/index.js';
import { batch, published } from './helpers.js';

const [dir, roundText] = process.argv.slice(2) as [string, string];
const round = Number(roundText);
const devices = ['gw-0', 'gw-1', 'gw-2'];
const nextSeq = new Map(devices.map((d) => [d, round * 1_000_000]));
const maxBatches = 200_000;
const deadline = Date.now() + 60_000;
const out = (value: unknown) => writeSync(1, `${JSON.stringify(value)}\n`);

const custody = await openResultCustody({ dir, maxBytes: 512 * 1024 * 1024, maxAgeMs: 3_600_000, logger: createLogger({ level: 'error' }) });
custody.startForwarding(async (topic, payload) => {
  const sent = published(topic, payload);
  setImmediate(() => {
    const up = sent.seqs.filter((seq) => seq % 3 === 0);
    if (up.length === 0) return;
    custody.upstreamAck(sent.deviceId, { v: 1, deviceId: sent.deviceId, stored: up.map((seq) => [seq, seq] as [number, number]) });
    out({ up: sent.deviceId, seqs: up });
  });
});
out({ ready: true, held: custody.backlog().batches });

let produced = 0;
let turn = 0;
async function feed(): Promise<void> {
  while (produced < maxBatches && Date.now() < deadline) {
    const deviceId = devices[turn++ % devices.length]!;
    const first = nextSeq.get(deviceId)!;
    const count = turn % 5 === 0 ? 1 : 1 + (turn % 40);
    nextSeq.set(deviceId, first + count);
    produced += count;
    const items = Array.from({ length: count }, (_, i) => batch(deviceId, first + i, 1 + ((first + i) % 60)));
    const ack =
      count === 1
        ? await custody.receive(deviceId, 'results', Buffer.from(JSON.stringify(items[0])))
        : await custody.receive(deviceId, 'spooled', Buffer.from(JSON.stringify({ v: 1, deviceId, batches: items })));
    if (ack) out({ acked: deviceId, stored: ack.stored });
  }
}
await Promise.all([feed(), feed(), feed(), feed()]);
await custody.close();
out({ done: true });
