/**
 * A TCP proxy the test controls, standing in for a site's uplink: `cut()` drops every connection
 * through it and refuses new ones (closed at accept, like a dead route that answers RST), and
 * `restore()` lets connections through again. Loopback only; closed in t.after.
 */
import { createConnection, createServer, type AddressInfo, type Socket } from 'node:net';
import type { TestContext } from 'node:test';

export interface TcpProxy {
  readonly port: number;
  readonly url: string;
  /** Connections made through the proxy since it started (restored or not). */
  readonly accepted: number;
  /** Connections through the proxy now. */
  readonly open: number;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export interface TcpProxyOptions {
  /** Sees every chunk the target sends back on connection `n` (numbered from 0 in accept order), before it is passed on. */
  readonly onTargetData?: (n: number, chunk: Buffer) => void;
  /** The loopback address connection `n` leaves from (127.0.0.2 and up), so a target's per-address limits see many clients. */
  readonly localAddress?: (n: number) => string;
}

export async function startTcpProxy(t: Pick<TestContext, 'after'>, target: { host?: string; port: number }, listenPort = 0, options: TcpProxyOptions = {}): Promise<TcpProxy> {
  const host = target.host ?? '127.0.0.1';
  const pairs = new Set<[Socket, Socket]>();
  let open = true;
  let accepted = 0;
  const server = createServer((inbound) => {
    if (!open) return void inbound.destroy();
    const n = accepted;
    accepted += 1;
    const localAddress = options.localAddress?.(n);
    const outbound = createConnection({ host, port: target.port, ...(localAddress ? { localAddress } : {}) });
    if (options.onTargetData) {
      const tap = options.onTargetData;
      outbound.on('data', (chunk: Buffer) => tap(n, chunk));
    }
    const pair: [Socket, Socket] = [inbound, outbound];
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      inbound.destroy();
      outbound.destroy();
    };
    inbound.on('error', end).on('close', end);
    outbound.on('error', end).on('close', end);
    inbound.pipe(outbound);
    outbound.pipe(inbound);
  });
  await new Promise<void>((resolve) => server.listen(listenPort, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const proxy: TcpProxy = {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    get accepted() {
      return accepted;
    },
    get open() {
      return pairs.size;
    },
    cut() {
      open = false;
      for (const [inbound, outbound] of [...pairs]) {
        inbound.destroy();
        outbound.destroy();
      }
      pairs.clear();
    },
    restore() {
      open = true;
    },
    async close() {
      proxy.cut();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  t.after(() => proxy.close());
  return proxy;
}
