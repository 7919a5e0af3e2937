/**
 * The platform TLS-only with mutual TLS, as `wasmfleet certs init` + `wasmfleet server --tls-dir
 * DIR --no-tcp --require-client-cert` run it: the API's own link connects over TLS with the
 * service certificate, and a provisioned device connects with its certificate and password.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { silentLogger } from '../../common/logger.js';
import { startPlatform } from '../../platform/start-platform.js';
import { waitFor } from '../helpers/wait.js';
import { connect } from './helpers.js';
import { makeCertificates } from './tls-helpers.js';

test('TLS-only platform with mutual TLS: API link and devices connect, plain TCP is off', async (t) => {
  const certs = makeCertificates(t, ['gw-01']);
  const platform = await startPlatform(
    {
      dataDir: join(certs.dir, 'data'),
      mqttPort: 0,
      httpPort: 0,
      mqttTcp: false,
      mqttTls: {
        port: 0,
        certFile: certs.server.cert,
        keyFile: certs.server.key,
        caFile: certs.ca.cert,
        requireClientCert: true,
        serviceCertFile: certs.service.cert,
        serviceKeyFile: certs.service.key,
      },
    },
    silentLogger,
  );
  t.after(() => platform.close());
  assert.match(platform.mqttUrl, /^mqtts:\/\//);
  assert.equal(platform.broker.url, platform.broker.tlsUrl);
  await waitFor('the API link connected over mutual TLS', () => (platform.api.link.connected ? true : undefined), 5000);

  const res = await fetch(`${platform.apiUrl}/api/v1/devices`, {
    method: 'POST',
    headers: { authorization: `Bearer ${platform.newAdminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ id: 'gw-01', profile: 'sim-x86-64' }),
  });
  const provisioned = (await res.json()) as { mqtt: { url: string; password: string } };
  assert.equal(provisioned.mqtt.url, platform.broker.tlsUrl, 'agent configs get the TLS url');
  const client = certs.clients[0]!;
  const device = await connect(t, provisioned.mqtt.url, {
    clientId: 'gw-01', username: 'gw-01', password: provisioned.mqtt.password,
    ca: readFileSync(certs.ca.cert), cert: readFileSync(client.cert), key: readFileSync(client.key),
  });
  assert.ok(device.connected);
});
