/**
 * TEST ONLY: a hub that tampers with what it relays, to show that it cannot make a device run
 * anything the fleet did not sign for it (issue 14 §Untrusted by design, docs/security.md §Hubs).
 * Switched on only through startHub's `tamper` option in code; the config file schema has no such
 * field (test/hub/config.test.ts), so `wasmfleet hub` cannot run it.
 *
 * It can alter module bytes in flight, serve a device an older desired state it relayed before,
 * and serve a device another device's desired state. Agents refuse each and say why.
 */
import { topics, parseTopic } from '../protocol/topics.js';

export interface TamperOptions {
  /** Flip one byte of every module's Wasm (base64 re-encoded), keeping its declared sha256. */
  readonly alterModules?: boolean;
}

export interface TamperControls {
  /** Serves `deviceId` the first desired state the hub relayed to it (an older revision). */
  replayOlderDesired(deviceId: string): Promise<void>;
  /** Serves `deviceId` the desired state relayed to `otherDeviceId`. */
  serveDesiredOf(deviceId: string, otherDeviceId: string): Promise<void>;
}

export class Tamperer {
  readonly #options: TamperOptions;
  /** Every desired payload relayed, per device, oldest first. */
  readonly #history = new Map<string, Buffer[]>();

  constructor(options: TamperOptions) {
    this.#options = options;
  }

  /** What the site broker is given instead of `payload`. */
  transform(topic: string, payload: Buffer): Buffer {
    const parsed = parseTopic(topic);
    if (parsed?.kind === 'device' && parsed.channel === 'desired') {
      const history = this.#history.get(parsed.deviceId) ?? [];
      history.push(payload);
      this.#history.set(parsed.deviceId, history);
      return payload;
    }
    if (parsed?.kind === 'module' && this.#options.alterModules) return alterModule(payload);
    return payload;
  }

  controls(publish: (topic: string, payload: Buffer) => Promise<void>): TamperControls {
    return {
      replayOlderDesired: async (deviceId) => {
        const oldest = this.#history.get(deviceId)?.[0];
        if (!oldest) throw new Error(`no desired state of ${deviceId} relayed yet`);
        await publish(topics.device(deviceId, 'desired'), oldest);
      },
      serveDesiredOf: async (deviceId, otherDeviceId) => {
        const other = this.#history.get(otherDeviceId)?.at(-1);
        if (!other) throw new Error(`no desired state of ${otherDeviceId} relayed yet`);
        await publish(topics.device(deviceId, 'desired'), other);
      },
    };
  }
}

function alterModule(payload: Buffer): Buffer {
  try {
    const envelope = JSON.parse(payload.toString('utf8')) as { wasm?: unknown };
    if (typeof envelope.wasm !== 'string') return payload;
    const wasm = Buffer.from(envelope.wasm, 'base64');
    const at = wasm.length - 1;
    wasm[at] = (wasm[at]! ^ 0xff) & 0xff;
    return Buffer.from(JSON.stringify({ ...envelope, wasm: wasm.toString('base64') }));
  } catch {
    return payload;
  }
}
