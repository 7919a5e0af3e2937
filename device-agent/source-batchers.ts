/** The profile's sources, each behind its batcher, started together and stopped together. */
import type { Logger } from '../common/logger.js';
import type { FirmwareProfile } from '../firmware-profiles/index.js';
import { SourceBatcher, type BatchConsumer } from './batcher.js';
import { createSource } from './sources/index.js';

export class SourceBatchers {
  private constructor(private readonly batchers: ReadonlyMap<string, SourceBatcher>) {}

  static async start(profile: FirmwareProfile, deviceId: string, logger: Logger): Promise<SourceBatchers> {
    const startedAt = Date.now();
    const batchers = new Map<string, SourceBatcher>();
    for (const sourceConfig of profile.sources) {
      const batcher = new SourceBatcher(await createSource(sourceConfig, deviceId, logger), { ...profile.batch, logger });
      batcher.start(startedAt);
      batchers.set(sourceConfig.id, batcher);
    }
    return new SourceBatchers(batchers);
  }

  /** Binds a module to its source's batches; returns the unbinding. The reconciler checked the id. */
  attach(sourceId: string, consumer: BatchConsumer): () => void {
    const subscription = this.batchers.get(sourceId)!.subscribe(consumer);
    return () => subscription.cancel();
  }

  stop(): void {
    for (const batcher of this.batchers.values()) batcher.stop();
  }
}
