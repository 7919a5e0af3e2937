/**
 * A CPU profile of this process over a measured span (node:inspector, the same profiler as
 * `node --cpu-prof`), written as a .cpuprofile for Chrome DevTools, plus its top functions by self
 * time, so a bench can name its largest costs in a note.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join, relative } from 'node:path';
import { fromRoot } from '../../common/paths.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  samples?: number[];
  startTime: number;
  endTime: number;
}

export interface Profiling {
  /** Stops, writes DIR/<name>.cpuprofile and returns the top `count` functions by self time ("12.3% fn (file:line)"). */
  stop(dir: string, name: string, count?: number): Promise<string[]>;
}

export async function startProfiling(): Promise<Profiling> {
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object): Promise<unknown> =>
    new Promise((resolve, reject) => session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))));
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 500 });
  await post('Profiler.start');
  return {
    async stop(dir, name, count = 8) {
      const { profile } = (await post('Profiler.stop')) as { profile: Profile };
      session.disconnect();
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, `${name}.cpuprofile`), JSON.stringify(profile));
      const total = profile.nodes.reduce((sum, node) => sum + (node.hitCount ?? 0), 0);
      const byFunction = new Map<string, number>();
      for (const node of profile.nodes) {
        const { functionName, url, lineNumber } = node.callFrame;
        const file = url.startsWith('file://') ? relative(fromRoot(), new URL(url).pathname) : url || 'native';
        const key = `${functionName || '(anonymous)'} (${file}:${lineNumber + 1})`;
        byFunction.set(key, (byFunction.get(key) ?? 0) + (node.hitCount ?? 0));
      }
      return [...byFunction]
        .sort((a, b) => b[1] - a[1])
        .slice(0, count)
        .map(([key, hits]) => `${((100 * hits) / Math.max(1, total)).toFixed(1)}% ${key}`);
    },
  };
}
