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
 * Persistent sessions' outgoing queues are indexed too (OutgoingQueue below); the whole conformance
 * suite of aedes-persistence runs against this persistence in test/broker/persistence.test.ts.
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

/** A QoS 1/2 packet queued for a persistent session, as Aedes hands it over. */
interface OutgoingPacket {
  brokerId?: string;
  brokerCounter?: number;
  messageId?: number;
}

type AsyncMemoryPersistenceClass = new (options?: object) => AsyncMemoryPersistence;
type CallBackPersistenceClass = new (factory: (options: object) => AsyncMemoryPersistence, options?: object) => unknown;

const require = createRequire(import.meta.url);
// The package's own parts (it exports only the callback-wrapped factory): the async memory
// persistence to extend, and the wrapper Aedes expects around it.
const MemoryPersistence = require('aedes-persistence/asyncPersistence.js') as AsyncMemoryPersistenceClass;
const { CallBackPersistence } = require('aedes-persistence/callBackPersistence.js') as { CallBackPersistence: CallBackPersistenceClass };
const Packet = require('aedes-packet') as new (packet: OutgoingPacket) => OutgoingPacket;

const hasWildcard = (filter: string): boolean => filter.includes('+') || filter.includes('#');

/**
 * One persistent session's outgoing queue, in order, with the two lookups Aedes makes on it indexed.
 * The stock queue is an array searched from the start: every QoS 1 delivery to a persistent session
 * (outgoingUpdate, for a packet just appended at the end) walked every packet in flight, so a
 * subscriber that fell behind (the API's link, which receives the whole fleet's messages) made each
 * further message cost more: 18 µs a message with 1,000 in flight, 95 µs with 5,000, 305 µs with
 * 20,000. Same answers as the array, in the same order of precedence (first match wins).
 */
class OutgoingQueue {
  private seq = 0;
  /** By position: a Map keeps insertion order, and replacing a value keeps its place. */
  private readonly packets = new Map<number, OutgoingPacket>();
  private readonly byCounter = new Map<string, Positions>();
  private readonly byMessageId = new Map<number, Positions>();

  push(packet: OutgoingPacket): void {
    const at = this.seq++;
    this.packets.set(at, packet);
    this.index(at, packet);
  }

  /** outgoingUpdate: the first packet with the same brokerId and counter takes the messageId, or the first with the same messageId from another broker is replaced. */
  update(packet: OutgoingPacket): boolean {
    const same = first(this.byCounter.get(counterKey(packet)));
    const other = first(this.byMessageId.get(idKey(packet.messageId)), (at) => this.packets.get(at)!.brokerId !== packet.brokerId);
    if (same !== undefined && (other === undefined || same < other)) {
      const stored = this.packets.get(same)!;
      remove(this.byMessageId, idKey(stored.messageId), same, true);
      stored.messageId = packet.messageId;
      add(this.byMessageId, idKey(stored.messageId), same);
      return true;
    }
    if (other === undefined) return false;
    this.unindex(other, this.packets.get(other)!);
    this.packets.set(other, packet);
    this.index(other, packet);
    return true;
  }

  /** outgoingClearMessageId: removes and returns the first packet with this messageId. */
  clear(messageId: number | undefined): OutgoingPacket | undefined {
    const at = first(this.byMessageId.get(idKey(messageId)));
    if (at === undefined) return undefined;
    const packet = this.packets.get(at)!;
    this.packets.delete(at);
    this.unindex(at, packet);
    return packet;
  }

  snapshot(): OutgoingPacket[] {
    return [...this.packets.values()];
  }

  private index(at: number, packet: OutgoingPacket): void {
    add(this.byCounter, counterKey(packet), at);
    add(this.byMessageId, idKey(packet.messageId), at);
  }

  private unindex(at: number, packet: OutgoingPacket): void {
    remove(this.byCounter, counterKey(packet), at);
    remove(this.byMessageId, idKey(packet.messageId), at, true);
  }
}

/**
 * Positions under one key: a number while there is one (nearly always: one packet per broker
 * counter, one per message id), a Set past that. A Set per queued packet was an allocation and a
 * collection for every message to a persistent session (the API's link: the whole fleet's).
 */
type Positions = number | Set<number>;

/** Kept for a key of an index whose keys come back (see remove); never written to. */
const NONE: ReadonlySet<number> = new Set<number>();

/** The earliest position under a key, among those `accept` takes. */
function first(positions: Positions | undefined, accept: (at: number) => boolean = () => true): number | undefined {
  if (positions === undefined) return undefined;
  if (typeof positions === 'number') return accept(positions) ? positions : undefined;
  let earliest: number | undefined;
  for (const at of positions) if ((earliest === undefined || at < earliest) && accept(at)) earliest = at;
  return earliest;
}

function add<K>(index: Map<K, Positions>, key: K, at: number): void {
  const held = index.get(key);
  if (held === undefined || held === NONE) index.set(key, at);
  else if (typeof held === 'number') index.set(key, new Set([held, at]));
  else held.add(at);
}

/**
 * `keepEmpty`: leave the key in place (NONE), for an index whose keys are few and come back (message
 * ids: at most 65,535, and every packet not yet sent shares one key). Deleting and re-adding that
 * one key for every packet cost ten times the rest of a push with 20,000 packets queued.
 */
function remove<K>(index: Map<K, Positions>, key: K, at: number, keepEmpty = false): void {
  const held = index.get(key);
  if (held === undefined || held === NONE) return;
  if (typeof held === 'number') {
    if (held !== at) return;
    if (keepEmpty) index.set(key, NONE as Set<number>);
    else index.delete(key);
    return;
  }
  held.delete(at);
  if (held.size === 0 && !keepEmpty) index.delete(key);
}

/** A packet not yet sent has no messageId; the array compared undefined too, so it is a key of its own. */
const idKey = (messageId: number | undefined): number => messageId ?? -1;
const counterKey = (packet: OutgoingPacket): string => `${packet.brokerId}\u0000${packet.brokerCounter}`;

class IndexedRetainedPersistence extends MemoryPersistence {
  private readonly outgoing = new Map<string, OutgoingQueue>();

  private queueOf(clientId: string): OutgoingQueue {
    let queue = this.outgoing.get(clientId);
    if (!queue) this.outgoing.set(clientId, (queue = new OutgoingQueue()));
    return queue;
  }

  async outgoingEnqueue(sub: { clientId: string }, packet: OutgoingPacket): Promise<void> {
    this.queueOf(sub.clientId).push(new Packet(packet));
  }

  async outgoingEnqueueCombi(subs: Array<{ clientId: string }>, packet: OutgoingPacket): Promise<void> {
    for (const sub of subs) this.queueOf(sub.clientId).push(new Packet(packet));
  }

  async outgoingUpdate(client: { id: string }, packet: OutgoingPacket): Promise<void> {
    if (!this.queueOf(client.id).update(packet)) throw new Error('no such packet');
  }

  async outgoingClearMessageId(client: { id: string }, packet: OutgoingPacket): Promise<OutgoingPacket | undefined> {
    return this.queueOf(client.id).clear(packet.messageId);
  }

  outgoingStream(client: { id: string }): Readable {
    // A copy, as the parent's: the queue changes while Aedes streams it on a reconnect.
    return Readable.from(this.outgoing.get(client.id)?.snapshot() ?? []);
  }

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
