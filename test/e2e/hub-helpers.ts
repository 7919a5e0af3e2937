/**
 * A `wasmfleet hub` as a real process for the e2e tests: provisioned at the API (`POST /hubs`),
 * its config written to its own temp dir, started (and started again in place after a kill) on a
 * fixed free port so the agents behind it find it again. `TestHub.provision` registers the
 * cleanup (the running hub stopped, its temp dir removed), which runs whether the test passed or not.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { startCli, type RunningCli } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';
import { freePort, type Fleet } from './fault-helpers.js';

export interface HubOptions {
  /** Devices whose tags match go behind the hub (`POST /hubs` selector). */
  readonly selector?: Record<string, string>;
  /** The parent hub (`POST /hubs` parent): the API answers the parent's broker as the upstream. */
  readonly parent?: string;
  /** The hub's uplink; the upstream the API answers unless given (e.g. a TCP proxy the test controls). */
  readonly upstreamUrls?: string[];
}

export class TestHub {
  /** Every run of the hub process, oldest first. */
  readonly runs: RunningCli[] = [];

  private constructor(
    readonly id: string,
    readonly port: number,
    /** The hub's temp dir: its config, and its data directory `data/` (custody under `data/custody`). */
    readonly dir: string,
    private readonly configPath: string,
    /** The upstream the API answered at provisioning. */
    readonly provisionedUpstream: readonly string[],
  ) {}

  static async provision(t: TestContext, fleet: Fleet, id: string, options: HubOptions = {}): Promise<TestHub> {
    const port = await freePort();
    const provisioned = await fleet.api<{ upstream: { urls: string[]; password: string } }>('POST', '/hubs', {
      id,
      urls: [`mqtt://127.0.0.1:${port}`],
      ...(options.selector ? { selector: options.selector } : {}),
      ...(options.parent ? { parent: options.parent } : {}),
    });
    const dir = mkdtempSync(join(tmpdir(), 'wf-hub-e2e-'));
    const hub = new TestHub(id, port, dir, join(dir, `${id}.hub.json`), provisioned.upstream.urls);
    t.after(async () => {
      await hub.current?.stop();
      // WF_TEST_LOG_DIR=/some/dir keeps the hub's logs for looking into a failure.
      const keep = process.env.WF_TEST_LOG_DIR;
      if (keep) hub.runs.forEach((run, i) => writeFileSync(join(keep, `hub-${id}-${i}.log`), run.output()));
      rmSync(dir, { recursive: true, force: true });
    });
    const upstream = { urls: options.upstreamUrls ?? provisioned.upstream.urls, reconnectPeriodMs: 200 };
    writeFileSync(hub.configPath, JSON.stringify({ hubId: id, secret: provisioned.upstream.password, upstream, listen: { host: '127.0.0.1', port }, dataDir: 'data', statusIntervalMs: 1000 }));
    return hub;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  get custodyDir(): string {
    return join(this.dir, 'data', 'custody');
  }

  /** The newest run, unless it has been marked down. */
  current: RunningCli | undefined;

  /** Starts the hub process and waits until it serves its site. */
  async start(): Promise<RunningCli> {
    const run = startCli(['hub', '--config', this.configPath, '--json']);
    this.runs.push(run);
    this.current = run;
    await waitFor(`hub ${this.id} to start`, () => (run.output().includes('"siteRevision"') ? true : undefined), 60_000);
    return run;
  }
}
