/**
 * Holds a stream corked from its first write in a turn of the event loop to the next turn, so every
 * packet written to it in between leaves in one writev. mqtt-packet (under Aedes and mqtt.js alike)
 * corks for one packet and uncorks on the next tick, so every packet was a system call of its own:
 *  - in the broker, Aedes writes each delivery from its own setImmediate: every message to the fleet
 *    API was a writev (a quarter of the broker's CPU in a 10,000-device rollout), and a device in a
 *    2,000-device rollout was written 13.3 packets in 12.3 writes but in 10.3 turns (PUBACKs of a
 *    burst, a SUBACK and the retained message behind it);
 *  - in the fleet API's link, mqtt.js writes the PUBACK of each message it receives: a receiver
 *    took 20 us of CPU per QoS 1 message, 15 us with its PUBACKs coalesced (same run, 40,000
 *    messages; broker/README.md).
 * Backpressure is unchanged: write() still returns false past the highWaterMark while corked, and
 * 'drain' comes once the turn's writes have gone.
 */
import type { Writable } from 'node:stream';

/** Streams whose writes are held to one per turn (coalesceWrites). */
const coalescing = new WeakSet<Writable>();

export function coalesceWrites(stream: Writable): void {
  if (coalescing.has(stream)) return;
  coalescing.add(stream);
  const cork = stream.cork;
  let held = false;
  stream.cork = function heldCork(this: Writable): void {
    if (!held) {
      held = true;
      cork.call(this);
      setImmediate(() => {
        held = false;
        this.uncork();
      });
    }
    cork.call(this);
  };
}

/** Whether coalesceWrites was applied to `stream`. */
export function writesCoalesced(stream: Writable): boolean {
  return coalescing.has(stream);
}
