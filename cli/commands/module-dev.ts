/** `wasmfleet module dev DIR --device ID`: rebuild, publish and deploy on every save (cli/dev-loop.ts). */
import { watch, type FSWatcher } from 'node:fs';
import { resolve, sep } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { formatBuildProblem } from '../../modules-as/sdk/kit/debug-build.js';
import { reasonOf } from '../../common/errors.js';
import { clientFor } from '../api-client.js';
import { DevLoop, type DevEvent } from '../dev-loop.js';
import { followEvents } from '../event-stream.js';
import { parseConfigValues, type GlobalArgs } from '../global-options.js';
import { DEFAULT_PUBLISHER_KEY, loadSigningKey } from './keys.js';

interface DevArgs extends GlobalArgs {
  dir: string;
  device: string;
  key: string;
  force: boolean;
  config?: string[];
  input?: string;
}

/** Saves closer together than this are one change (editors write a file in several steps). */
const DEBOUNCE_MS = 100;

function describe(event: DevEvent, module: string): string {
  switch (event.type) {
    case 'watching':
      return `watching ${event.dir} (Ctrl-C puts ${event.device} back as it was and deletes this loop's dev versions)`;
    case 'building':
      return `building ${module}@${event.version}`;
    case 'build-failed':
      return event.problems.length > 0 ? `build failed, nothing deployed:\n${event.problems.map((p) => `  ${formatBuildProblem(p)}`).join('\n')}` : `build failed, nothing deployed: ${event.reason}`;
    case 'deployed':
      return `deployed ${module}@${event.version} (build ${event.buildMs} ms, publish and deploy ${event.deployMs} ms)`;
    case 'running':
      return `running ${module}@${event.version}`;
    case 'result':
      return `${event.kind} ${event.metric}: ${event.points.length} point(s), last ${event.points.at(-1)?.[1] ?? '-'}`;
    case 'fault':
      return `FAULT #${event.faults} ${event.message}`;
    case 'restored':
      return event.to ? `restored: the device runs ${event.to} again` : `restored: ${module} removed from the device, as before`;
    case 'cleaned':
      return [
        event.removed.length > 0 ? `removed ${event.removed.length} dev version(s): ${event.removed.map((v) => `${module}@${v}`).join(', ')}` : 'removed no dev version',
        ...event.kept.map((k) => `  kept ${module}@${k.version}: ${k.reason}`),
      ].join('\n');
    case 'error':
      return `error: ${event.message}`;
  }
}

export const devCommand: CommandModule<GlobalArgs, DevArgs> = {
  command: 'dev <dir>',
  describe: 'Rebuild (debug, with source map), publish x.y.z-dev.N and deploy to one device on every save; stream its results and faults until Ctrl-C, which restores the device and deletes the dev versions it published',
  builder: (argv: Argv<GlobalArgs>) =>
    argv
      .positional('dir', { type: 'string', demandOption: true, describe: 'module folder' })
      .option('device', { type: 'string', demandOption: true, describe: 'the one device to deploy to (never a tag)' })
      .option('key', { type: 'string', default: process.env.WASMFLEET_PUBLISHER_KEY ?? DEFAULT_PUBLISHER_KEY, describe: 'publisher private key; the development key by default' })
      .option('force', { type: 'boolean', default: false, describe: 'take over a device that runs a release (non-dev) version of this module' })
      .option('config', { type: 'string', array: true, describe: "param=value (repeatable); by default the device's current config of the module" })
      .option('input', { type: 'string', describe: "sensor source id; by default the device's current one" })
      .example('$0 module dev modules-as/examples/ema --device gw-01 --config every=1', 'edit ema and see its results on gw-01 at every save') as Argv<DevArgs>,
  handler: async (args) => {
    const api = clientFor(args);
    const dir = resolve(args.dir);
    const config = args.config ? parseConfigValues(args.config) : undefined;
    let loop: DevLoop | undefined;
    const show = (event: DevEvent): void => {
      process.stdout.write(`${args.json ? JSON.stringify(event) : describe(event, loop?.moduleName ?? '')}\n`);
    };
    loop = new DevLoop({
      api,
      dir,
      deviceId: args.device,
      publisher: loadSigningKey(args.key, '--key'),
      force: args.force,
      ...(config ? { config } : {}),
      ...(args.input ? { input: args.input } : {}),
      onEvent: show,
    });
    await loop.prepare();
    const live = loop;

    const events = new AbortController();
    const following = followEvents(api, {
      query: { device: args.device, kind: ['result', 'device.reported'] },
      signal: events.signal,
      onEvent: (message) => live.observe(message.event, message.data),
    });

    // One cycle at a time; a save during a cycle runs one more after it.
    let running: Promise<void> = Promise.resolve();
    let pending = false;
    let stopping = false;
    const runCycle = (): void => {
      if (pending || stopping) return;
      pending = true;
      running = running.then(async () => {
        pending = false;
        if (stopping) return;
        try {
          await live.cycle();
        } catch (error) {
          show({ type: 'error', message: reasonOf(error) });
        }
      });
    };

    runCycle();
    let timer: NodeJS.Timeout | undefined;
    const watcher: FSWatcher = watch(dir, { recursive: true }, (_kind, file) => {
      const name = String(file ?? '');
      const relevant = name === 'manifest.json' || name === 'asconfig.json' || name.startsWith(`assembly${sep}`);
      if (!relevant) return;
      clearTimeout(timer);
      timer = setTimeout(runCycle, DEBOUNCE_MS);
    });
    show({ type: 'watching', dir, device: args.device });

    await new Promise<void>((done) => {
      const stop = (): void => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        done();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    stopping = true;
    clearTimeout(timer);
    watcher.close();
    await running;
    try {
      await live.restore();
    } finally {
      events.abort();
      await following;
    }
  },
};
