/**
 * A strict parser of the Prometheus text exposition format 0.0.4, for tests: it throws, naming
 * the line, on anything a scraper could reject or misread (bad names, bad escapes, samples
 * outside their declared family, a TYPE after its samples, duplicate series, non-cumulative
 * histogram buckets, a +Inf bucket that is not the count).
 */
export interface Family {
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  help: string | undefined;
  samples: Array<{ name: string; labels: Record<string, string>; value: number }>;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function parseValue(text: string, where: string): number {
  // Prometheus parses values with Go's ParseFloat, which matches NaN and Inf ignoring case.
  if (/^\+?inf(inity)?$/i.test(text)) return Infinity;
  if (/^-inf(inity)?$/i.test(text)) return -Infinity;
  if (/^nan$/i.test(text)) return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`${where}: '${text}' is not a sample value`);
  return Number(text);
}

function parseLabels(text: string, where: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf('=', i);
    if (eq < 0) throw new Error(`${where}: label without '='`);
    const name = text.slice(i, eq);
    if (!LABEL.test(name) || name.startsWith('__')) throw new Error(`${where}: bad label name '${name}'`);
    if (name in labels) throw new Error(`${where}: label '${name}' twice`);
    if (text[eq + 1] !== '"') throw new Error(`${where}: label value of '${name}' is not quoted`);
    let value = '';
    let j = eq + 2;
    for (;;) {
      if (j >= text.length) throw new Error(`${where}: unterminated label value`);
      const c = text[j]!;
      if (c === '"') break;
      if (c === '\\') {
        const next = text[j + 1];
        if (next === '\\') value += '\\';
        else if (next === '"') value += '"';
        else if (next === 'n') value += '\n';
        else throw new Error(`${where}: bad escape '\\${next}'`);
        j += 2;
      } else {
        if (c === '\n') throw new Error(`${where}: raw newline in a label value`);
        value += c;
        j += 1;
      }
    }
    labels[name] = value;
    i = j + 1;
    if (i < text.length) {
      if (text[i] !== ',') throw new Error(`${where}: expected ',' after label '${name}'`);
      i += 1;
    }
  }
  return labels;
}

export function parsePrometheusText(text: string): Map<string, Family> {
  if (!text.endsWith('\n')) throw new Error('the exposition must end with a newline');
  const families = new Map<string, Family>();
  const sampled = new Set<string>();
  const series = new Set<string>();
  const familyOf = (sample: string): Family | undefined => {
    for (const suffix of ['_bucket', '_sum', '_count', '']) {
      if (!sample.endsWith(suffix)) continue;
      const family = families.get(sample.slice(0, sample.length - suffix.length));
      if (!family) continue;
      if (suffix === '' || ((family.type === 'histogram' || family.type === 'summary') && (suffix !== '_bucket' || family.type === 'histogram'))) return family;
    }
    return undefined;
  };
  text.slice(0, -1).split('\n').forEach((line, index) => {
    const where = `line ${index + 1} (${line.slice(0, 80)})`;
    if (line === '') return;
    if (line.startsWith('#')) {
      const match = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!match) return; // a plain comment
      const [, keyword, name, rest] = match as unknown as [string, string, string, string];
      if (!NAME.test(name)) throw new Error(`${where}: bad metric name`);
      if (sampled.has(name)) throw new Error(`${where}: ${keyword} after samples of ${name}`);
      const family = families.get(name) ?? { name, type: 'untyped' as const, help: undefined, samples: [] };
      if (keyword === 'TYPE') {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest)) throw new Error(`${where}: unknown type '${rest}'`);
        if (families.get(name)?.type !== undefined && families.get(name)!.type !== 'untyped') throw new Error(`${where}: second TYPE for ${name}`);
        family.type = rest as Family['type'];
      } else {
        if (family.help !== undefined) throw new Error(`${where}: second HELP for ${name}`);
        family.help = rest;
      }
      families.set(name, family);
      return;
    }
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (-?\d+))?$/.exec(line);
    if (!match) throw new Error(`${where}: not a sample line`);
    const [, name, labelText, valueText] = match as unknown as [string, string, string | undefined, string];
    const labels = labelText ? parseLabels(labelText, where) : {};
    const value = parseValue(valueText, where);
    const family = familyOf(name);
    if (!family) throw new Error(`${where}: sample ${name} has no TYPE declared before it`);
    const key = `${name}{${Object.entries(labels).sort().map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}`;
    if (series.has(key)) throw new Error(`${where}: duplicate series ${key}`);
    series.add(key);
    sampled.add(family.name);
    if (family.type === 'counter' && !(value >= 0)) throw new Error(`${where}: negative counter`);
    if (family.type === 'histogram' && name.endsWith('_bucket') && labels.le === undefined) throw new Error(`${where}: bucket without le`);
    family.samples.push({ name, labels, value });
  });
  for (const family of families.values()) {
    if (family.type !== 'histogram') continue;
    const groups = new Map<string, Array<{ le: number; value: number }>>();
    const counts = new Map<string, number>();
    for (const s of family.samples) {
      const { le, ...rest } = s.labels;
      const key = JSON.stringify(Object.entries(rest).sort());
      if (s.name.endsWith('_bucket')) groups.set(key, [...(groups.get(key) ?? []), { le: parseValue(le!, family.name), value: s.value }]);
      if (s.name.endsWith('_count')) counts.set(key, s.value);
    }
    for (const [key, buckets] of groups) {
      for (let i = 1; i < buckets.length; i++) {
        if (!(buckets[i]!.le > buckets[i - 1]!.le)) throw new Error(`${family.name}${key}: buckets not in increasing le order`);
        if (buckets[i]!.value < buckets[i - 1]!.value) throw new Error(`${family.name}${key}: buckets not cumulative`);
      }
      const inf = buckets[buckets.length - 1]!;
      if (inf.le !== Infinity) throw new Error(`${family.name}${key}: no le="+Inf" bucket`);
      if (counts.get(key) !== inf.value) throw new Error(`${family.name}${key}: +Inf bucket ${inf.value} != _count ${counts.get(key)}`);
    }
  }
  return families;
}

/** The value of one series, 0 if absent. */
export function sampleValue(families: Map<string, Family>, family: string, sample: string, labels: Record<string, string> = {}): number {
  const found = families.get(family)?.samples.find((s) => s.name === sample && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return found?.value ?? 0;
}
