/**
 * What `wasmfleet flash` puts on a gateway, in bytes: the agent bundle (agent + sandbox worker)
 * against the issue's 1 MiB ceiling, and per architecture the folder with `--with-node`'s runtime
 * against the bundle alone, plus that folder packed as `--tar` does (gzip) against unpacked.
 * Runtimes come from the same verified cache flash uses (fetched on first run).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildAgentBundle, BUNDLE_ENTRY, BUNDLE_WORKER, MAX_BUNDLE_BYTES } from '../bundle/build-agent.js';
import { DEFAULT_RUNTIME_VERSIONS, extractNodeRuntime, fetchNodeRuntime, type RuntimeArch } from '../bundle/node-runtime.js';
import { figure, type BenchFigure } from './figure.js';

const KIB = 1024;
const MIB = 1024 * 1024;

export async function benchBundleSize(options: { arches?: readonly RuntimeArch[] } = {}): Promise<BenchFigure[]> {
  const arches = options.arches ?? (['x64', 'arm64', 'armv7l'] as const);
  const work = mkdtempSync(join(tmpdir(), 'wf-bench-bundle-'));
  try {
    const bundle = await buildAgentBundle({ outDir: join(work, 'bundle') });
    const figures: BenchFigure[] = [
      figure({
        bench: 'bundle-size/agent',
        subject: `${BUNDLE_ENTRY} + ${BUNDLE_WORKER} (minified, all profiles embedded)`,
        baseline: 'issue ceiling (1 MiB)',
        unit: 'KiB',
        subjectValue: bundle.bytes / KIB,
        baselineValue: MAX_BUNDLE_BYTES / KIB,
        note: 'lower is better; under 1 is within the ceiling',
      }),
      figure({
        bench: 'bundle-size/agent',
        subject: 'agent bundle',
        baseline: 'its compiled JS + node_modules inputs, unbundled',
        unit: 'KiB',
        subjectValue: bundle.bytes / KIB,
        baselineValue: bundle.inputBytes / KIB,
        note: 'lower is better',
      }),
    ];
    for (const arch of arches) {
      const runtime = fetchNodeRuntime({ arch });
      const folder = join(work, `gw-${arch}`);
      mkdirSync(folder);
      for (const file of [BUNDLE_ENTRY, BUNDLE_WORKER]) copyFileSync(join(bundle.dir, file), join(folder, file));
      const { bytes: nodeBytes, license } = extractNodeRuntime(runtime, join(folder, 'runtime'));
      const withNode = bundle.bytes + nodeBytes + statSync(license).size;
      const archive = join(work, `gw-${arch}.tar.gz`);
      const packed = spawnSync('tar', ['-czf', archive, '-C', work, `gw-${arch}`]);
      if (packed.status !== 0) throw new Error(`tar failed for ${arch}: ${packed.stderr}`);
      figures.push(
        figure({
          bench: `bundle-size/with-node-${arch}`,
          subject: `bundle + Node ${DEFAULT_RUNTIME_VERSIONS[arch]} (${runtime.packageName})`,
          baseline: 'bundle alone',
          unit: 'MiB',
          subjectValue: withNode / MIB,
          baselineValue: bundle.bytes / MIB,
          note: 'what --with-node adds; the runtime is most of it',
        }),
        figure({
          bench: `bundle-size/with-node-${arch}`,
          subject: '--tar archive (gzip)',
          baseline: 'the same folder unpacked',
          unit: 'MiB',
          subjectValue: statSync(archive).size / MIB,
          baselineValue: withNode / MIB,
          note: 'what crosses the network with --ssh',
        }),
      );
      rmSync(folder, { recursive: true, force: true });
      rmSync(archive, { force: true });
    }
    return figures;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

// `node dist/bench/bundle-size.js` runs this benchmark alone and prints its figures.
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  for (const f of await benchBundleSize()) {
    process.stdout.write(`${f.bench}\t${f.subject}: ${f.subjectValue.toFixed(1)} ${f.unit} vs ${f.baseline}: ${f.baselineValue.toFixed(1)} ${f.unit} (x${f.ratio.toFixed(3)})\n`);
  }
}
