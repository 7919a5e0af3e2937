/**
 * Splits a binary into its sections and checks their ids and order, so the rewriter works on
 * known pieces only.
 */
import { ByteReader, ByteWriter } from './bytes.js';
import { MeteringRefusal } from './refusal.js';

export const SectionId = {
  custom: 0,
  type: 1,
  import: 2,
  function: 3,
  table: 4,
  memory: 5,
  global: 6,
  export: 7,
  start: 8,
  element: 9,
  code: 10,
  data: 11,
  dataCount: 12,
} as const;

/** Non-custom sections in the order the spec requires (13 would be tags, which are refused). */
export const SECTION_ORDER: readonly number[] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 10, 11];

const SECTION_NAMES = ['custom', 'type', 'import', 'function', 'table', 'memory', 'global', 'export', 'start', 'element', 'code', 'data', 'data count'];

export function sectionName(id: number): string {
  return `${SECTION_NAMES[id] ?? `unknown (${id})`} section`;
}

export interface Section {
  readonly id: number;
  /** Offset of the payload (after id and size) in the module. */
  readonly start: number;
  /** Exclusive end of the payload. */
  readonly end: number;
}

const MAGIC_AND_VERSION = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];

export function readSections(wasm: Uint8Array): Section[] {
  if (wasm.length < 8 || MAGIC_AND_VERSION.some((b, i) => wasm[i] !== b)) {
    throw new MeteringRefusal('not a WebAssembly 1.0 binary (magic number and version 1 missing)');
  }
  const r = new ByteReader(wasm, 8);
  const sections: Section[] = [];
  let lastRank = -1;
  while (!r.done) {
    const headerAt = r.at;
    const id = r.u8();
    const size = r.u32();
    const start = r.at;
    r.skip(size);
    if (id === 13) r.refuse('tag section (exception handling) is not supported by the metering rewriter', headerAt);
    if (id !== SectionId.custom) {
      const rank = SECTION_ORDER.indexOf(id);
      if (rank < 0) r.refuse(`unknown section id ${id}`, headerAt);
      if (rank <= lastRank) r.refuse(`${sectionName(id)} is out of order or repeated`, headerAt);
      lastRank = rank;
    }
    sections.push({ id, start, end: r.at });
  }
  return sections;
}

/** A reader over one section's payload, its refusals prefixed with the section's name. */
export function sectionReader(wasm: Uint8Array, section: Section): ByteReader {
  return new ByteReader(wasm, section.start, section.end, sectionName(section.id));
}

/** Fails when a section's declared entries end before its payload does. */
export function expectEnd(r: ByteReader): void {
  if (!r.done) r.refuse(`${r.end - r.at} bytes left over after the last entry`);
}

export function writeSection(out: ByteWriter, id: number, payload: Uint8Array): void {
  out.u8(id).sized(payload);
}
