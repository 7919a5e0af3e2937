#!/usr/bin/env node
/**
 * Compares two V8 heap snapshots of the same process (e.g. the soak's WF_SOAK_SNAPSHOT_DIR ones):
 * objects counted and self-sized per constructor, the growth between them sorted by bytes, and,
 * with --retainers NAME, the retaining paths of a few objects of NAME that are new in the second
 * snapshot (V8 keeps an object's id across snapshots of one process, so "new" is "id not in the
 * first"). Strings, numbers and code are grouped by kind, not by their text.
 *
 *   node scripts/heap-diff.mjs A.heapsnapshot B.heapsnapshot [--top 30] [--retainers SpoolEntry] [--paths 5]
 *
 * Self sizes only: retained sizes need the dominator tree, and a growing count names the culprit
 * well enough; the retainer paths then say who holds it.
 */
import { readFileSync } from 'node:fs';

const GROUPED_BY_KIND = new Set(['string', 'concatenated string', 'sliced string', 'number', 'code', 'regexp', 'bigint']);

function load(path) {
  const raw = JSON.parse(readFileSync(path, 'utf8'));
  const meta = raw.snapshot.meta;
  const nodeFields = meta.node_fields;
  const edgeFields = meta.edge_fields;
  const nodeTypes = meta.node_types[0];
  const edgeTypes = meta.edge_types[0];
  const at = (fields, name) => fields.indexOf(name);
  return {
    nodes: raw.nodes,
    edges: raw.edges,
    strings: raw.strings,
    nodeTypes,
    edgeTypes,
    N: nodeFields.length,
    E: edgeFields.length,
    TYPE: at(nodeFields, 'type'),
    NAME: at(nodeFields, 'name'),
    ID: at(nodeFields, 'id'),
    SELF: at(nodeFields, 'self_size'),
    EDGES: at(nodeFields, 'edge_count'),
    ETYPE: at(edgeFields, 'type'),
    ENAME: at(edgeFields, 'name_or_index'),
    ETO: at(edgeFields, 'to_node'),
  };
}

function keyOf(s, i) {
  const type = s.nodeTypes[s.nodes[i + s.TYPE]];
  if (GROUPED_BY_KIND.has(type)) return `(${type})`;
  const name = s.strings[s.nodes[i + s.NAME]];
  return `${type}:${name.length > 60 ? name.slice(0, 60) + '…' : name}`;
}

function census(s) {
  const byKey = new Map();
  for (let i = 0; i < s.nodes.length; i += s.N) {
    const key = keyOf(s, i);
    const entry = byKey.get(key) ?? { count: 0, bytes: 0 };
    entry.count += 1;
    entry.bytes += s.nodes[i + s.SELF];
    byKey.set(key, entry);
  }
  return byKey;
}

/** Reverse edges: for each node index, the (from node, edge) pairs pointing at it. */
function retainersOf(s) {
  const count = s.nodes.length / s.N;
  const firstEdge = new Uint32Array(count + 1);
  for (let n = 0; n < count; n++) firstEdge[n + 1] = firstEdge[n] + s.nodes[n * s.N + s.EDGES] * s.E;
  const into = new Map();
  for (let n = 0; n < count; n++) {
    for (let e = firstEdge[n]; e < firstEdge[n + 1]; e += s.E) {
      const edgeType = s.edgeTypes[s.edges[e + s.ETYPE]];
      if (edgeType === 'weak' || edgeType === 'shortcut') continue;
      const to = s.edges[e + s.ETO];
      const list = into.get(to);
      if (list) list.push(n * s.N, e);
      else into.set(to, [n * s.N, e]);
    }
  }
  return into;
}

function edgeName(s, e) {
  const type = s.edgeTypes[s.edges[e + s.ETYPE]];
  const nameOrIndex = s.edges[e + s.ENAME];
  return type === 'element' || type === 'hidden' ? `[${nameOrIndex}]` : `.${s.strings[nameOrIndex]}`;
}

/** One retaining path up to `depth`, preferring retainers not seen on this path (no cycles). */
function pathTo(s, into, node, depth) {
  const parts = [keyOf(s, node)];
  const seen = new Set([node]);
  let current = node;
  for (let d = 0; d < depth; d++) {
    const list = into.get(current);
    if (!list) break;
    let next;
    for (let k = 0; k < list.length; k += 2) {
      if (!seen.has(list[k])) {
        next = k;
        break;
      }
    }
    if (next === undefined) break;
    const from = list[next];
    parts.push(`${keyOf(s, from)}${edgeName(s, list[next + 1])}`);
    seen.add(from);
    current = from;
  }
  return parts.join('\n      <- ');
}

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(name);
  if (at < 0) return fallback;
  const value = args[at + 1];
  args.splice(at, 2);
  return value;
};
const top = Number(option('--top', 30));
const retainersFor = option('--retainers', undefined);
const paths = Number(option('--paths', 5));
const depth = Number(option('--depth', 12));
if (args.length !== 2) {
  console.error('usage: node scripts/heap-diff.mjs A.heapsnapshot B.heapsnapshot [--top 30] [--retainers NAME] [--paths 5] [--depth 12]');
  process.exit(2);
}
const [a, b] = args.map(load);
const before = census(a);
const after = census(b);
const rows = [];
for (const [key, entry] of after) {
  const old = before.get(key) ?? { count: 0, bytes: 0 };
  rows.push({ key, count: entry.count, dCount: entry.count - old.count, bytes: entry.bytes, dBytes: entry.bytes - old.bytes });
}
for (const [key, old] of before) if (!after.has(key)) rows.push({ key, count: 0, dCount: -old.count, bytes: 0, dBytes: -old.bytes });
rows.sort((x, y) => y.dBytes - x.dBytes);
const total = (census) => [...census.values()].reduce((sum, e) => sum + e.bytes, 0);
console.log(`self size: ${(total(before) / 1048576).toFixed(2)} MiB -> ${(total(after) / 1048576).toFixed(2)} MiB`);
console.log(`${'Δ bytes'.padStart(12)} ${'Δ count'.padStart(9)} ${'count'.padStart(9)}  constructor (type:name)`);
for (const row of rows.slice(0, top)) console.log(`${String(row.dBytes).padStart(12)} ${String(row.dCount).padStart(9)} ${String(row.count).padStart(9)}  ${row.key}`);

if (retainersFor) {
  const oldIds = new Set();
  for (let i = 0; i < a.nodes.length; i += a.N) oldIds.add(a.nodes[i + a.ID]);
  const into = retainersOf(b);
  const fresh = [];
  for (let i = 0; i < b.nodes.length; i += b.N) {
    const key = keyOf(b, i);
    if ((key === retainersFor || key.endsWith(`:${retainersFor}`)) && !oldIds.has(b.nodes[i + b.ID])) fresh.push(i);
  }
  console.log(`\n${fresh.length} objects of ${retainersFor} new in the second snapshot; retaining paths of ${Math.min(paths, fresh.length)}, evenly spread:`);
  for (let k = 0; k < Math.min(paths, fresh.length); k++) {
    const node = fresh[Math.floor((k * fresh.length) / Math.min(paths, fresh.length))];
    console.log(`  ${pathTo(b, into, node, depth)}\n`);
  }
}
