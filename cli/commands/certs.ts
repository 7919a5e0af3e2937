/**
 * `wasmfleet certs init|client`: a local certificate authority for the broker's TLS listener.
 * Certificates are made by common/x509.ts on node:crypto (ECDSA P-256), so no `openssl` is needed.
 * Keys are written with mode 0600 in a 0700 directory; an existing CA is kept, never replaced
 * silently, because every agent trusts it.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { isValidAltName, issueCertificate, type IssuedCertificate } from '../../common/x509.js';
import { DEVICE_ID_PATTERN, SERVICE_USERNAME } from '../../protocol/index.js';
import { cliErrors } from '../errors.js';
import type { GlobalArgs } from '../global-options.js';
import { emit } from '../output.js';

export const CERT_FILES = {
  caCert: 'ca.crt',
  caKey: 'ca.key',
  serverCert: 'server.crt',
  serverKey: 'server.key',
  serviceCert: 'service.crt',
  serviceKey: 'service.key',
  clientsDir: 'clients',
} as const;

const DEFAULT_HOSTS = ['localhost', '127.0.0.1', '::1'];
const CA_DAYS = 3650;
/** The longest validity Apple platforms accept for a TLS server certificate; fine for clients too. */
const LEAF_DAYS = 825;

function write(path: string, text: string, secret: boolean): void {
  try {
    writeFileSync(path, text, { mode: secret ? 0o600 : 0o644 });
    chmodSync(path, secret ? 0o600 : 0o644);
  } catch (error) {
    throw cliErrors.WF_CLI_FILE({ path, reason: (error as Error).message });
  }
}

function writePair(dir: string, certName: string, keyName: string, issued: IssuedCertificate): { cert: string; key: string } {
  const cert = join(dir, certName);
  const key = join(dir, keyName);
  write(key, issued.keyPem, true);
  write(cert, issued.certificatePem, false);
  return { cert, key };
}

function openDir(dir: string): string {
  const path = resolve(dir);
  try {
    mkdirSync(path, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw cliErrors.WF_CLI_FILE({ path, reason: (error as Error).message });
  }
  return path;
}

function readCa(dir: string): { certificatePem: string; keyPem: string } {
  const cert = join(dir, CERT_FILES.caCert);
  const key = join(dir, CERT_FILES.caKey);
  if (!existsSync(cert) || !existsSync(key)) throw cliErrors.WF_CLI_FILE({ path: cert, reason: `no CA here; run 'wasmfleet certs init --dir ${dir}' first` });
  return { certificatePem: readFileSync(cert, 'utf8'), keyPem: readFileSync(key, 'utf8') };
}

export interface InitResult {
  dir: string;
  ca: { cert: string; key: string; created: boolean };
  server: { cert: string; key: string; hosts: string[] };
  service: { cert: string; key: string };
  clients: Array<{ deviceId: string; cert: string; key: string }>;
}

function issueClients(dir: string, ca: { certificatePem: string; keyPem: string }, ids: readonly string[], days: number): InitResult['clients'] {
  const pattern = new RegExp(DEVICE_ID_PATTERN);
  const clientsDir = openDir(join(dir, CERT_FILES.clientsDir));
  return ids.map((deviceId) => {
    if (!pattern.test(deviceId)) throw cliErrors.WF_CLI_BAD_ARGUMENT({ option: 'device id', reason: `'${deviceId}' is not a device id` });
    const issued = issueCertificate({ kind: 'client', commonName: deviceId, days, issuer: ca });
    return { deviceId, ...writePair(clientsDir, `${deviceId}.crt`, `${deviceId}.key`, issued) };
  });
}

/** Creates (or keeps) the CA, then issues the server, service and requested client certificates. */
export function initCertificates(options: { dir: string; hosts?: readonly string[]; clients?: readonly string[]; days?: number; newCa?: boolean }): InitResult {
  const dir = openDir(options.dir);
  const days = options.days ?? LEAF_DAYS;
  const hosts = [...new Set([...DEFAULT_HOSTS, ...(options.hosts ?? [])])];
  for (const host of hosts) {
    if (!isValidAltName(host)) throw cliErrors.WF_CLI_BAD_ARGUMENT({ option: '--host', reason: `'${host}' is neither a host name nor an IP address` });
  }
  const caExists = existsSync(join(dir, CERT_FILES.caKey));
  let ca: { certificatePem: string; keyPem: string };
  if (caExists && !options.newCa) {
    ca = readCa(dir);
  } else {
    ca = issueCertificate({ kind: 'ca', commonName: 'wasmfleet local CA', days: CA_DAYS });
    writePair(dir, CERT_FILES.caCert, CERT_FILES.caKey, ca);
  }
  const server = issueCertificate({ kind: 'server', commonName: hosts.find((h) => h !== 'localhost' && !/^[\d.:]+$/.test(h)) ?? 'localhost', altNames: hosts, days, issuer: ca });
  // The API's own MQTT link presents this one when the broker requires client certificates.
  const service = issueCertificate({ kind: 'client', commonName: SERVICE_USERNAME, days, issuer: ca });
  return {
    dir,
    ca: { cert: join(dir, CERT_FILES.caCert), key: join(dir, CERT_FILES.caKey), created: !caExists || options.newCa === true },
    server: { ...writePair(dir, CERT_FILES.serverCert, CERT_FILES.serverKey, server), hosts },
    service: writePair(dir, CERT_FILES.serviceCert, CERT_FILES.serviceKey, service),
    clients: issueClients(dir, ca, options.clients ?? [], days),
  };
}

export function issueClientCertificates(options: { dir: string; ids: readonly string[]; days?: number }): InitResult['clients'] {
  const dir = resolve(options.dir);
  return issueClients(dir, readCa(dir), options.ids, options.days ?? LEAF_DAYS);
}

interface InitArgs extends GlobalArgs {
  dir: string;
  host?: string[];
  client?: string[];
  days: number;
  'new-ca': boolean;
}

const init: CommandModule<GlobalArgs, InitArgs> = {
  command: 'init',
  describe: 'Create a local CA (kept if present), a broker server certificate and optional device client certificates',
  builder: (argv) =>
    argv
      .option('dir', { type: 'string', default: './data/tls', describe: 'where to write ca.crt, server.crt, service.crt, clients/ and their keys (0600)' })
      .option('host', { type: 'string', array: true, describe: 'extra host name or IP in the server certificate (localhost, 127.0.0.1, ::1 are always in)' })
      .option('client', { type: 'string', array: true, describe: 'also issue a client certificate for this device id (repeatable)' })
      .option('days', { type: 'number', default: LEAF_DAYS, describe: 'validity of the server and client certificates' })
      .option('new-ca', { type: 'boolean', default: false, describe: 'replace an existing CA (every agent must then get the new ca.crt)' })
      .example('$0 certs init --dir ./data/tls --host broker.plant.lan --host 10.0.4.2', 'certificates for a broker reachable under a name and an IP')
      .example('$0 server --tls-dir ./data/tls --no-tcp', 'then run the broker TLS-only') as Argv<InitArgs>,
  handler: (args) => {
    const result = initCertificates({ dir: args.dir, hosts: args.host, clients: args.client, days: args.days, newCa: args['new-ca'] });
    emit(args.json, result, () =>
      [
        `${result.ca.created ? 'created' : 'kept'} CA        ${result.ca.cert}  (key ${result.ca.key}: keep it off the broker host if you can)`,
        `server certificate ${result.server.cert}  for ${result.server.hosts.join(', ')}`,
        `service certificate ${result.service.cert}  (the API's link, for --require-client-cert)`,
        ...result.clients.map((client) => `client certificate ${client.cert}  for device ${client.deviceId}`),
        `agents trust ${result.ca.cert}: set broker.caFile in their config and use an mqtts:// URL`,
      ].join('\n'),
    );
  },
};

interface ClientArgs extends GlobalArgs {
  ids: string[];
  dir: string;
  days: number;
}

const client: CommandModule<GlobalArgs, ClientArgs> = {
  command: 'client <ids..>',
  describe: 'Issue client certificates (CN = device id) for mutual TLS, signed by the CA in --dir',
  builder: (argv) =>
    argv
      .positional('ids', { type: 'string', array: true, demandOption: true, describe: 'device ids' })
      .option('dir', { type: 'string', default: './data/tls', describe: 'the directory of `certs init`' })
      .option('days', { type: 'number', default: LEAF_DAYS, describe: 'validity' })
      .example('$0 certs client gw-01 gw-02 --dir ./data/tls', 'writes clients/gw-01.crt and clients/gw-01.key, ...') as Argv<ClientArgs>,
  handler: (args) => {
    const clients = issueClientCertificates({ dir: args.dir, ids: args.ids, days: args.days });
    emit(args.json, { clients }, () => clients.map((c) => `client certificate ${c.cert}  key ${c.key}  for device ${c.deviceId}`).join('\n'));
  },
};

export const certsCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'certs <command>',
  describe: 'Create a local CA and certificates for the TLS broker listener (and mutual TLS)',
  builder: (argv) =>
    argv
      .command(init)
      .command(client)
      .demandCommand(1)
      .example('$0 certs init --host broker.plant.lan --client gw-01', 'CA, server and one client certificate in ./data/tls') as Argv<GlobalArgs>,
  handler: () => undefined,
};
