/**
 * Two broker nodes on one real Redis: node A is the platform (API + broker), node B a separate
 * broker that knows only the Redis URL (and, with TLS, the same listener setup), admitting from
 * the credential replica. Everything is stopped in order and the temp dir removed after the test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker, type RunningBroker } from '../../broker/index.js';
import { createRedisCredentialVerifier } from '../../broker/redis-verifier.js';
import { silentLogger } from '../../common/logger.js';
import { startPlatform, type RunningPlatform } from '../../platform/start-platform.js';
import { adminCall, type AdminCall } from '../helpers/admin-api.js';
import { startRedis } from '../helpers/redis.js';

export interface TwoNodeTls {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
  /** The API's own client certificate for its link to node A. */
  readonly serviceCertFile: string;
  readonly serviceKeyFile: string;
}

export interface TwoNodes {
  readonly platform: RunningPlatform;
  readonly nodeB: RunningBroker;
  readonly call: AdminCall;
}

/** With `tls`, both nodes listen on mutual TLS only (client certificates required). */
export async function startTwoNodes(t: TestContext, prefix: string, tls?: TwoNodeTls): Promise<TwoNodes> {
  const redis = await startRedis(undefined);
  const dir = mkdtempSync(join(tmpdir(), `wf-${prefix}-`));
  const listener = tls && { port: 0, certFile: tls.certFile, keyFile: tls.keyFile, caFile: tls.caFile, requireClientCert: true };
  const platform = await startPlatform(
    {
      dataDir: join(dir, 'data'),
      mqttPort: 0,
      httpPort: 0,
      redis: redis.url,
      ...(listener ? { mqttTcp: false, mqttTls: { ...listener, serviceCertFile: tls.serviceCertFile, serviceKeyFile: tls.serviceKeyFile } } : {}),
    },
    silentLogger,
  );
  const verifier = createRedisCredentialVerifier(redis.url, silentLogger);
  const nodeB = await startBroker({ port: 0, redis: redis.url, verifier, logger: silentLogger, ...(listener ? { tcp: false, tls: listener } : {}) });
  t.after(async () => {
    await nodeB.close();
    await verifier.close();
    await platform.close();
    await redis.dispose();
    rmSync(dir, { recursive: true, force: true });
  });
  return { platform, nodeB, call: adminCall(platform.apiUrl, platform.newAdminToken!) };
}
