/** Wire protocol version: carried as `v` in every JSON payload and as the topic prefix `wf/v1`. */
export const PROTOCOL_VERSION = 1 as const;

/** Host ABI version the SDK builds; see docs/modules.md. */
export const ABI_VERSION = 2 as const;

/** ABI versions a host still runs: 1 (memory copied through the worker), 2 (shared input slots). */
export const SUPPORTED_ABI_VERSIONS = [1, 2] as const;
export type AbiVersion = (typeof SUPPORTED_ABI_VERSIONS)[number];

export const TOPIC_ROOT = `wf/v${PROTOCOL_VERSION}` as const;
