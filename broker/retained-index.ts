/**
 * Aedes' in-memory persistence, with retained messages also kept by exact topic. Aedes answers
 * every SUBSCRIBE with the retained messages its filters match, and the stock memory persistence
 * finds them by testing every retained topic against each filter (building a matcher per filter).
 * A fleet keeps several retained messages per device (desired state, status, reported state), and
 * every agent subscribes to its own exact topics (its desired state, a module by hash): each
 * SUBSCRIBE cost a walk over the whole fleet's retained messages, quadratic in the fleet. In a
 * 2,000-device rollout that walk was three quarters of the broker's CPU (profile in
 * bench/RESULTS.md, rollout-10k). A filter without wildcards now takes one map lookup; filters
 * with `+` or `#` still walk, as before.
 */
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';

interface RetainedPacket {
  readonly topic: string;
  readonly payload: Buffer | Uint8Array | string;
}

interface AsyncMemoryPersistence {
  storeRetained(packet: RetainedPacket): Promise<void>;
  createRetainedStream(pattern: string): Readable;
  createRetainedStreamCombi(patterns: string[]): Readable;
}

type AsyncMemoryPersistenceClass = new (options?: object) => AsyncMemoryPersistence;
type CallBackPersistenceClass = new (factory: (options: object) => AsyncMemoryPersistence, options?: object) => unknown;

const require = createRequire(import.meta.url);
// The package's own parts (it exports only the callback-wrapped factory): the async memory
// persistence to extend, and the wrapper Aedes expects around it.
const MemoryPersistence = require('aedes-persistence/asyncPersistence.js') as AsyncMemoryPersistenceClass;
const { CallBackPersistence } = require('aedes-persistence/callBackPersistence.js') as { CallBackPersistence: CallBackPersistenceClass };

const hasWildcard = (filter: string): boolean => filter.includes('+') || filter.includes('#');

class IndexedRetainedPersistence extends MemoryPersistence {
  /** The same retained messages as the parent's map, by exact topic. */
  private readonly byTopic = new Map<string, RetainedPacket>();

  override async storeRetained(packet: RetainedPacket): Promise<void> {
    await super.storeRetained(packet);
    // As the parent does: an empty payload clears the topic, anything else replaces it (a copy).
    if (packet.payload.length === 0) this.byTopic.delete(packet.topic);
    else this.byTopic.set(packet.topic, { ...packet });
  }

  override createRetainedStream(pattern: string): Readable {
    return this.createRetainedStreamCombi([pattern]);
  }

  override createRetainedStreamCombi(patterns: string[]): Readable {
    const walked = patterns.filter(hasWildcard);
    const exact: RetainedPacket[] = [];
    for (const pattern of patterns) {
      if (hasWildcard(pattern)) continue;
      const packet = this.byTopic.get(pattern);
      if (packet) exact.push(packet);
    }
    if (walked.length === 0) return Readable.from(exact);
    const rest = super.createRetainedStreamCombi(walked);
    return exact.length === 0 ? rest : Readable.from(concat(exact, rest));
  }
}

async function* concat(first: readonly RetainedPacket[], rest: AsyncIterable<RetainedPacket>): AsyncGenerator<RetainedPacket> {
  yield* first;
  yield* rest;
}

/** What to pass Aedes as `persistence` on a single node: its memory persistence, retained messages indexed by topic. */
export function indexedMemoryPersistence(): unknown {
  return new CallBackPersistence((options) => new IndexedRetainedPersistence(options), {});
}
