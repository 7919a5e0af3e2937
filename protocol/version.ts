/** Wire protocol version: carried as `v` in every JSON payload and as the topic prefix `wf/v1`. */
export const PROTOCOL_VERSION = 1 as const;

/** Host ABI version a module is compiled against; see docs/modules.md. */
export const ABI_VERSION = 1 as const;

export const TOPIC_ROOT = `wf/v${PROTOCOL_VERSION}` as const;
