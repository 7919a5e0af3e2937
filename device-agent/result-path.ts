/**
 * The agent's results path [WF-P-T-8]: each ResultBatch is encoded, appended to the spool and
 * handed to the sender, which publishes in seq order and forgets a result only on the API's ack.
 * A batch that cannot be encoded is counted as lost. Spool and sender live and close together.
 */
import type { MqttClient } from 'mqtt';
import type { Logger } from '../common/logger.js';
import { pause } from '../common/stop-sequence.js';
import type { FirmwareProfile } from '../firmware-profiles/index.js';
import { encodePayload, type ResultBatch, type SpoolReport } from '../protocol/index.js';
import { ResultSender, type RefusedResult, type SenderStats } from './spool/sender.js';
import { Spool } from './spool/spool.js';

export interface ResultPathOptions {
  readonly deviceId: string;
  readonly spoolDir: string;
  readonly spool: FirmwareProfile['spool'];
  readonly logger: Logger;
  /** See SenderOptions.ackTimeoutMs. */
  readonly ackTimeoutMs?: number;
  /** A loss counter changed (spool full, too old, unwritable): worth a report soon. */
  readonly onLoss: () => void;
  /** The API refused results for good (negative ack [WF-P-NACK-1]); they are counted and never resent. */
  readonly onRefused: (refused: RefusedResult[]) => void;
}

export class ResultPath {
  private readonly spool: Spool;
  private readonly sender: ResultSender;
  private readonly logger: Logger;

  constructor(
    private readonly client: MqttClient,
    options: ResultPathOptions,
  ) {
    this.logger = options.logger;
    this.spool = new Spool(options.spoolDir, { ...options.spool, logger: options.logger.child({ component: 'spool' }) });
    this.spool.onLoss = options.onLoss;
    this.sender = new ResultSender(client, this.spool, { deviceId: options.deviceId, logger: options.logger, onRefused: options.onRefused, ...(options.ackTimeoutMs ? { ackTimeoutMs: options.ackTimeoutMs } : {}) });
  }

  get ackTopic(): string {
    return this.sender.ackTopic;
  }

  /** Results written and not yet acknowledged by the API. */
  get pending(): number {
    return this.spool.pending;
  }

  publish(batch: ResultBatch): void {
    let payload: Buffer;
    try {
      payload = encodePayload('results', batch);
    } catch (error) {
      this.spool.recordLost(batch.seq);
      this.logger.error('result batch not published', { module: batch.module, seq: batch.seq, error });
      return;
    }
    this.spool.append(batch.seq, payload);
    this.sender.pump();
  }

  /** An ack is consumed here; true if the message was one. */
  handleMessage(topic: string, payload: Buffer): boolean {
    return this.sender.handleMessage(topic, payload);
  }

  /** A (re)connect: every unacked result goes out again, oldest first. */
  onConnect(): void {
    this.sender.onConnect();
  }

  /**
   * Waits for the API's acks of what is pending, while the link is up and until `signal` aborts,
   * so a clean stop leaves little to resend. Whatever is not acked stays in the spool.
   */
  async awaitAcks(signal: AbortSignal): Promise<void> {
    while (!signal.aborted && this.client.connected && this.spool.pending > 0) await pause(50, signal);
  }

  /** Stops sending and closes the spool: synced to disk, loss ledger saved. */
  async close(): Promise<void> {
    this.sender.stop();
    await this.spool.close();
  }

  report(): SpoolReport {
    return this.spool.report();
  }

  senderStats(): SenderStats {
    return this.sender.stats();
  }
}
