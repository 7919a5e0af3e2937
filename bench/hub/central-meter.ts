/**
 * Bytes the central broker sends, counted where they leave it: every device or hub connection to
 * the centre goes through a TCP proxy the bench runs (test/helpers/tcp-proxy.ts), which hands this
 * meter each chunk the broker wrote on that connection. The meter counts the bytes, and parses the
 * stream as MQTT (mqtt-packet, one parser per connection) to tell module publishes (topic
 * wf/v1/modules/…) and desired states from the rest. The API's own link to its broker does not go
 * through the proxy and is not counted.
 */
import mqttPacket from 'mqtt-packet';

export interface MeterSnapshot {
  /** Every byte the broker wrote to the proxied connections. */
  readonly bytes: number;
  /** Whole PUBLISH packets (header, topic, payload) on module topics. */
  readonly moduleBytes: number;
  readonly modulePublishes: number;
  /** Whole PUBLISH packets on wf/v1/devices/+/desired. */
  readonly desiredBytes: number;
}

export class CentralMeter {
  #bytes = 0;
  #moduleBytes = 0;
  #modulePublishes = 0;
  #desiredBytes = 0;
  readonly #parsers = new Map<number, ReturnType<typeof mqttPacket.parser>>();
  readonly #unreadable = new Set<number>();

  /** The proxy's onTargetData: chunk `chunk` written by the broker on connection `n`. */
  readonly onTargetData = (n: number, chunk: Buffer): void => {
    this.#bytes += chunk.byteLength;
    if (this.#unreadable.has(n)) return;
    let parser = this.#parsers.get(n);
    if (!parser) {
      parser = mqttPacket.parser({ protocolVersion: 4 });
      parser.on('packet', (packet) => {
        if (packet.cmd !== 'publish') return;
        const size = packetSize(packet.length ?? 0);
        if (packet.topic.startsWith('wf/v1/modules/')) {
          this.#moduleBytes += size;
          this.#modulePublishes += 1;
        } else if (packet.topic.endsWith('/desired')) {
          this.#desiredBytes += size;
        }
      });
      // A stream the parser cannot read is still counted in `bytes`; stop classifying it.
      parser.on('error', () => {
        this.#unreadable.add(n);
        this.#parsers.delete(n);
      });
      this.#parsers.set(n, parser);
    }
    parser.parse(chunk);
  };

  snapshot(): MeterSnapshot {
    return { bytes: this.#bytes, moduleBytes: this.#moduleBytes, modulePublishes: this.#modulePublishes, desiredBytes: this.#desiredBytes };
  }
}

/** Fixed header byte + the remaining length's varint + the remaining length. */
function packetSize(remaining: number): number {
  let varint = 1;
  for (let rest = remaining >> 7; rest > 0; rest >>= 7) varint += 1;
  return 1 + varint + remaining;
}

export function since(after: MeterSnapshot, before: MeterSnapshot): MeterSnapshot {
  return {
    bytes: after.bytes - before.bytes,
    moduleBytes: after.moduleBytes - before.moduleBytes,
    modulePublishes: after.modulePublishes - before.modulePublishes,
    desiredBytes: after.desiredBytes - before.desiredBytes,
  };
}
