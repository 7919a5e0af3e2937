/**
 * The TLS listener's pieces: server options read from the configured files (each error names the
 * option and path), and the identities a client certificate names, for the mutual-TLS check in
 * authenticate.ts. With requireClientCert, node:tls refuses a handshake without a certificate
 * chaining to caFile (rejectUnauthorized), so the broker never sees such a client; the CN/SAN
 * check then binds the certificate to the MQTT identity, so one device's certificate cannot be
 * used with another device's password.
 */
import { readFileSync } from 'node:fs';
import { TLSSocket, type TlsOptions } from 'node:tls';
import type { Client } from 'aedes';
import { reasonOf } from '../common/errors.js';
import { certificateIdentities } from '../common/x509.js';
import { brokerErrors } from './errors.js';
import type { BrokerTlsOptions } from './options.js';

function read(option: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw brokerErrors.WF_BROKER_TLS_FILE({ option: `tls/${option}`, path, reason: reasonOf(error) });
  }
}

export function tlsServerOptions(tls: BrokerTlsOptions): TlsOptions {
  return {
    cert: read('certFile', tls.certFile),
    key: read('keyFile', tls.keyFile),
    ...(tls.caFile ? { ca: read('caFile', tls.caFile) } : {}),
    requestCert: tls.requireClientCert,
    rejectUnauthorized: tls.requireClientCert,
    // TLS 1.2 is the floor: older versions are broken, and every MQTT client of the last decade has 1.2.
    minVersion: 'TLSv1.2',
  };
}

/** The socket under an Aedes client: the guard hands Aedes the socket itself. */
const socketOf = (client: Client): unknown => client.conn;

/**
 * undefined when the client came over plain TCP or presented no verified certificate; otherwise
 * the names its certificate carries (CN, SAN DNS and URI).
 */
export function certificateIdentitiesOf(client: Client): string[] | undefined {
  const socket = socketOf(client);
  if (!(socket instanceof TLSSocket) || !socket.authorized) return undefined;
  const certificate = socket.getPeerCertificate();
  if (!certificate || Object.keys(certificate).length === 0) return undefined;
  return certificateIdentities(certificate as unknown as { subject?: Record<string, string>; subjectaltname?: string });
}
