/**
 * What the hub's relays may do with its two brokers, as narrow interfaces: the uplink (hub/uplink.ts)
 * and the site broker's local client (hub/local-broker.ts) implement them; tests pass doubles.
 */
export interface UpstreamPort {
  readonly connected: boolean;
  publish(topic: string, payload: Buffer, retain: boolean): Promise<void>;
  /** Topics to hold subscribed upstream, now and after every reconnect. */
  want(topics: Iterable<string>): void;
  unwant(topics: Iterable<string>): void;
}

export interface LocalPort {
  publish(topic: string, payload: Buffer, retain: boolean): Promise<void>;
}
