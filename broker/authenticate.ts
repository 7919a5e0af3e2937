/**
 * The Aedes `authenticate` hook. Identity comes only from the injected CredentialVerifier; the
 * broker owns no inventory. Refusals are logged as JSON lines with the clientId and a reason,
 * never with the password.
 *
 * CONNACK return codes (MQTT 3.1.1 §3.2.2.3), chosen so a client can tell what to fix:
 *   2 identifier rejected   device connected under a clientId other than its deviceId [MQTT-3.1.3-9],
 *                           or an empty clientId with CleanSession 0 [MQTT-3.1.3-8]
 *   3 server unavailable    the verifier itself failed (e.g. the store is down), or the connection
 *                           came over the connection rate limit; retrying later may work
 *   4 bad user name/password the verifier did not recognise the credentials
 *   5 not authorized        no username while allowAnonymous is false, a will topic it may not use,
 *                           or a TLS client certificate that does not name the authenticated identity
 * After a non-zero code Aedes sends the CONNACK and closes the connection [MQTT-3.2.2-5].
 */
import type { AuthenticateError, Client, ConnectPacket } from 'aedes';
import type { Logger } from '../common/logger.js';
import { reasonOf } from '../common/errors.js';
import type { CredentialVerifier, Principal } from './credentials.js';
import { decidePublish } from './acl.js';
import { hubClientId, hubUsername } from '../protocol/hubs.js';
import { selfOnly } from './hub-membership.js';
import { brokerErrors } from './errors.js';
import { setPrincipal } from './principal.js';
import type { RevocationRegistry } from './revocation.js';
import type { StatCounters, StatName } from './stats.js';
import { connectAccepted } from './metrics.js';

type AuthenticateHook = (
  client: Client,
  username: Readonly<string | undefined>,
  password: Readonly<Buffer | undefined>,
  done: (error: AuthenticateError | null, success: boolean | null) => void,
) => void;

export interface AuthenticateDeps {
  readonly verifier: CredentialVerifier;
  readonly allowAnonymous: boolean;
  readonly logger: Logger;
  readonly stats: StatCounters;
  readonly revocations: RevocationRegistry;
  /** True when the client's TCP connection was accepted over the connection rate limit. */
  readonly overConnectionRate: (client: Client) => boolean;
  /** Names in the client's verified TLS certificate; undefined over plain TCP or without one. */
  readonly certificateIdentities: (client: Client) => string[] | undefined;
}

/**
 * Aedes replaces an empty clientId by a generated one before authenticate runs and never checks
 * CleanSession, so the original emptiness is recorded here from the raw CONNECT packet.
 */
const EMPTY_PERSISTENT_ID = Symbol('wasmfleet.broker.emptyPersistentId');

type PreConnectHook = (client: Client, packet: ConnectPacket, callback: (error: Error | null, success: boolean) => void) => void;

export function createPreConnect(): PreConnectHook {
  return function preConnect(client, packet, callback) {
    if (!packet.clientId && packet.clean === false) {
      (client as Client & { [EMPTY_PERSISTENT_ID]?: true })[EMPTY_PERSISTENT_ID] = true;
    }
    // Refusing here would close without a CONNACK; authenticate answers with the proper code.
    callback(null, true);
  };
}

const remoteAddressOf = (client: Client): string =>
  (client.conn as { remoteAddress?: string } | undefined)?.remoteAddress ?? 'unknown';

const hasEmptyPersistentId = (client: Client): boolean =>
  (client as Client & { [EMPTY_PERSISTENT_ID]?: true })[EMPTY_PERSISTENT_ID] === true;

/** Aedes' AuthErrorCode is a `const enum` in its .d.ts; plain numbers keep us off isolatedModules pitfalls. */
const RETURN_CODE = { identifierRejected: 2, serverUnavailable: 3, badCredentials: 4, notAuthorized: 5 } as const;
type ReturnCode = (typeof RETURN_CODE)[keyof typeof RETURN_CODE];

/** Aedes reads the will from the CONNECT into this field before calling authenticate. */
const willTopicOf = (client: Client): string | undefined =>
  (client as Client & { _will?: { topic?: string } | null })._will?.topic ?? undefined;

const identityOf = (principal: Principal): string =>
  principal.kind === 'device' ? principal.deviceId : principal.kind === 'hub' ? hubUsername(principal.hubId) : principal.name;

/** Returns a refusal reason, or undefined when the principal may hold this session. */
function sessionProblem(client: Client, principal: Principal, certificateNames: string[] | undefined): { code: ReturnCode; reason: string; counter?: StatName } | undefined {
  // Mutual TLS: a certificate is a second factor bound to one identity, so device A's certificate
  // with device B's password is refused, as is a stolen password without its certificate.
  if (certificateNames !== undefined && !certificateNames.includes(identityOf(principal))) {
    const error = brokerErrors.WF_BROKER_CERTIFICATE_MISMATCH({ clientId: client.id, names: certificateNames.join(', ') || '(nothing)', identity: identityOf(principal) });
    return { code: RETURN_CODE.notAuthorized, reason: error.message, counter: 'certificateMismatches' };
  }
  // One device cannot take over another device's session: Aedes evicts an existing session with
  // the same clientId, so the clientId must be bound to the authenticated identity.
  if (principal.kind === 'device' && client.id !== principal.deviceId) {
    return { code: RETURN_CODE.identifierRejected, reason: 'clientId does not match the device id' };
  }
  // Likewise a hub holds only its own persistent session upstream (protocol/hubs.ts).
  if (principal.kind === 'hub' && client.id !== hubClientId(principal.hubId)) {
    return { code: RETURN_CODE.identifierRejected, reason: `clientId must be '${hubClientId(principal.hubId)}' for this hub` };
  }
  // Refuse a will the client could not publish itself now, rather than silently dropping it
  // when the connection dies [WF-P-T-4].
  const willTopic = willTopicOf(client);
  if (willTopic !== undefined) {
    // A hub's will is its own offline status, which needs no membership lookup.
    const decision = decidePublish(principal, willTopic, principal.kind === 'hub' ? selfOnly(principal.hubId) : undefined);
    if (!decision.allowed) return { code: RETURN_CODE.notAuthorized, reason: `will topic refused: ${decision.reason}` };
  }
  return undefined;
}

export function createAuthenticate(deps: AuthenticateDeps): AuthenticateHook {
  const { verifier, allowAnonymous, logger, stats, revocations, overConnectionRate, certificateIdentities } = deps;

  const refuse = (
    client: Client,
    code: ReturnCode,
    reason: string,
    done: (error: AuthenticateError | null, success: boolean | null) => void,
    username?: string,
    counter: StatName = 'authRefusals',
    errorCode: 'WF_BROKER_AUTH_REFUSED' | 'WF_BROKER_CONNECTION_RATE_LIMITED' = 'WF_BROKER_AUTH_REFUSED',
  ) => {
    stats.increment(counter);
    const error = brokerErrors.WF_BROKER_AUTH_REFUSED({ clientId: client.id, reason }) as unknown as AuthenticateError;
    error.returnCode = code as AuthenticateError['returnCode'];
    logger.warn('connection refused', {
      code: errorCode,
      clientId: client.id,
      ...(username !== undefined ? { username } : {}),
      returnCode: code,
      reason,
    });
    done(error, false);
  };

  return function authenticate(client, username, password, done) {
    // Before any credential work: a connection storm must not buy credential verifications.
    if (overConnectionRate(client)) {
      const reason = brokerErrors.WF_BROKER_CONNECTION_RATE_LIMITED({ remoteAddress: remoteAddressOf(client) }).message;
      return refuse(client, RETURN_CODE.serverUnavailable, reason, done, username, 'connectionRateRefusals', 'WF_BROKER_CONNECTION_RATE_LIMITED');
    }
    // [MQTT-3.1.3-8] a persistent session needs a name to be found again under.
    if (hasEmptyPersistentId(client)) {
      return refuse(client, RETURN_CODE.identifierRejected, 'empty clientId with CleanSession 0', done, username);
    }
    if (username === undefined || username === null) {
      if (!allowAnonymous) return refuse(client, RETURN_CODE.notAuthorized, 'anonymous clients are not allowed', done);
      // An anonymous client gets no principal, so every ACL decision denies it.
      if (willTopicOf(client) !== undefined) {
        return refuse(client, RETURN_CODE.notAuthorized, 'anonymous clients may not set a will', done);
      }
      stats.increment('anonymousConnects');
      logger.warn('anonymous client connected', {
        code: 'WF_BROKER_ANONYMOUS_ENABLED',
        clientId: client.id,
        remoteAddress: remoteAddressOf(client),
        scope: 'read-only: device reported/status/results',
      });
      return done(null, true);
    }
    // Every principal has a secret; a username alone proves nothing.
    if (!password || password.length === 0) {
      return refuse(client, RETURN_CODE.badCredentials, 'password missing', done, username);
    }

    const verifyStarted = Date.now();
    verifier.verify(username, password).then(
      (principal) => {
        if (!principal) return refuse(client, RETURN_CODE.badCredentials, 'unknown username or wrong password', done, username);
        // The credential was valid when read but the device was revoked meanwhile [WF-P-T-6].
        if (principal.kind === 'device' && revocations.revokedSince(principal.deviceId, verifyStarted)) {
          return refuse(client, RETURN_CODE.badCredentials, 'device revoked', done, username);
        }
        if (principal.kind === 'hub' && revocations.revokedSince(hubUsername(principal.hubId), verifyStarted)) {
          return refuse(client, RETURN_CODE.badCredentials, 'hub revoked', done, username);
        }
        const problem = sessionProblem(client, principal, certificateIdentities(client));
        if (problem) return refuse(client, problem.code, problem.reason, done, username, problem.counter);
        setPrincipal(client, principal);
        if (principal.kind === 'device') revocations.track(principal.deviceId, client);
        if (principal.kind === 'hub') revocations.track(hubUsername(principal.hubId), client);
        logger.debug('client authenticated', { clientId: client.id, principal: principal.kind });
        connectAccepted(principal.kind);
        done(null, true);
      },
      (error: unknown) => {
        logger.error('credential verifier failed', {
          code: 'WF_BROKER_VERIFIER_FAILED',
          clientId: client.id,
          username,
          reason: reasonOf(error),
        });
        refuse(client, RETURN_CODE.serverUnavailable, 'credential verifier failed', done, username);
      },
    );
  };
}
