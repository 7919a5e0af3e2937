/**
 * Rewrites the `name` custom section after the function index shift: function names (1) and
 * local names (2) get shifted indices, label names (3) are dropped, the others are kept as they
 * are (their indices do not move). Names are debugging aid only, so a malformed section is
 * dropped rather than refused.
 */
import { ByteReader, ByteWriter } from './bytes.js';
import { MeteringRefusal } from './refusal.js';

const FUNCTION_NAMES = 1;
const LOCAL_NAMES = 2;
const LABEL_NAMES = 3;
const LAST_KNOWN_SUBSECTION = 11;

function copyNameMap(r: ByteReader, w: ByteWriter, remap?: (index: number) => number): void {
  const count = r.u32();
  w.u32(count);
  for (let i = 0; i < count; i++) {
    const index = r.u32();
    w.u32(remap ? remap(index) : index);
    w.sized(r.take(r.u32()));
  }
}

/**
 * [start, end) is the custom section's payload after its "name" string. Returns the new payload
 * (without the "name" string), or undefined when the section should be dropped.
 */
export function rewriteNames(bytes: Uint8Array, start: number, end: number, remap: (index: number) => number): Uint8Array | undefined {
  try {
    const r = new ByteReader(bytes, start, end, 'name section');
    const w = new ByteWriter();
    while (!r.done) {
      const id = r.u8();
      const size = r.u32();
      const sub = new ByteReader(bytes, r.at, r.at + size, 'name section');
      r.skip(size);
      if (id === FUNCTION_NAMES) {
        const out = new ByteWriter();
        copyNameMap(sub, out, remap);
        if (!sub.done) return undefined;
        w.u8(id).sized(out.finish());
      } else if (id === LOCAL_NAMES) {
        const out = new ByteWriter();
        const count = sub.u32();
        out.u32(count);
        for (let i = 0; i < count; i++) {
          out.u32(remap(sub.u32()));
          copyNameMap(sub, out);
        }
        if (!sub.done) return undefined;
        w.u8(id).sized(out.finish());
      } else if (id !== LABEL_NAMES && id <= LAST_KNOWN_SUBSECTION) {
        w.u8(id).sized(sub.take(size));
      }
    }
    return w.finish();
  } catch (error) {
    if (error instanceof MeteringRefusal) return undefined;
    throw error;
  }
}
