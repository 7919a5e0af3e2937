/** Content addressing: modules are named on the wire by the sha256 of their bytes [WF-P-T-1]. */
import { createHash } from 'node:crypto';

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
