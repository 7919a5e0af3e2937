/**
 * The Aedes `authenticate` hook. Identity comes only from the injected CredentialVerifier; the
 * broker owns no inventory. Refusals are logged as JSON lines with the clientId and a reason,
 * never with the password.
 *
 * CONNACK return codes (MQTT 3.1.1 §3.2.2.3), chosen so a client can tell what to fix:
 *   2 identifier rejected   device connected under a clientId other than its deviceId [MQTT-3.1.3-9]
 *   3 server unavailable    the verifier itself failed (e.g. the store is down); retrying may work
 *   4 bad user name/password the verifier did not recognise the credentials
 *   5 not authorized        no username while allowAnonymous is false, or a will topic it may not use
 * After a non-zero code Aedes sends the CONNACK and closes the connection [MQTT-3.2.2-5].
 */
import type { AuthenticateError, Client } from 'aedes';
import type { Logger } from '../common/logger.js';
import { reasonOf } from '../common/errors.js';
import type { CredentialVerifier, Principal } from './credentials.js';
import { decidePublish } from './acl.js';
import { brokerErrors } from './errors.js';
import { setPrincipal } from './principal.js';
import type { StatCounters } from './stats.js';

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
}

/** Aedes' AuthErrorCode is a `const enum` in its .d.ts; plain numbers keep us off isolatedModules pitfalls. */
const RETURN_CODE = { identifierRejected: 2, serverUnavailable: 3, badCredentials: 4, notAuthorized: 5 } as const;
type ReturnCode = (typeof RETURN_CODE)[keyof typeof RETURN_CODE];

/** Aedes reads the will from the CONNECT into this field before calling authenticate. */
const willTopicOf = (client: Client): string | undefined =>
  (client as Client & { _will?: { topic?: string } | null })._will?.topic ?? undefined;

/** Returns a refusal reason, or undefined when the principal may hold this session. */
function sessionProblem(client: Client, principal: Principal): { code: ReturnCode; reason: string } | undefined {
  // One device cannot take over another device's session: Aedes evicts an existing session with
  // the same clientId, so the clientId must be bound to the authenticated identity.
  if (principal.kind === 'device' && client.id !== principal.deviceId) {
    return { code: RETURN_CODE.identifierRejected, reason: 'clientId does not match the device id' };
  }
  // Refuse a will the client could not publish itself now, rather than silently dropping it
  // when the connection dies [WF-P-T-4].
  const willTopic = willTopicOf(client);
  if (willTopic !== undefined) {
    const decision = decidePublish(principal, willTopic);
    if (!decision.allowed) return { code: RETURN_CODE.notAuthorized, reason: `will topic refused: ${decision.reason}` };
  }
  return undefined;
}

export function createAuthenticate(deps: AuthenticateDeps): AuthenticateHook {
  const { verifier, allowAnonymous, logger, stats } = deps;

  const refuse = (
    client: Client,
    code: ReturnCode,
    reason: string,
    done: (error: AuthenticateError | null, success: boolean | null) => void,
    username?: string,
  ) => {
    stats.increment('authRefusals');
    const error = brokerErrors.WF_BROKER_AUTH_REFUSED({ clientId: client.id, reason }) as unknown as AuthenticateError;
    error.returnCode = code as AuthenticateError['returnCode'];
    logger.warn('connection refused', {
      code: 'WF_BROKER_AUTH_REFUSED',
      clientId: client.id,
      ...(username !== undefined ? { username } : {}),
      returnCode: code,
      reason,
    });
    done(error, false);
  };

  return function authenticate(client, username, password, done) {
    if (username === undefined || username === null) {
      if (!allowAnonymous) return refuse(client, RETURN_CODE.notAuthorized, 'anonymous clients are not allowed', done);
      // An anonymous client gets no principal, so every ACL decision denies it.
      if (willTopicOf(client) !== undefined) {
        return refuse(client, RETURN_CODE.notAuthorized, 'anonymous clients may not set a will', done);
      }
      logger.info('anonymous client connected', { clientId: client.id });
      return done(null, true);
    }
    // Every principal has a secret; a username alone proves nothing.
    if (!password || password.length === 0) {
      return refuse(client, RETURN_CODE.badCredentials, 'password missing', done, username);
    }

    verifier.verify(username, password).then(
      (principal) => {
        if (!principal) return refuse(client, RETURN_CODE.badCredentials, 'unknown username or wrong password', done, username);
        const problem = sessionProblem(client, principal);
        if (problem) return refuse(client, problem.code, problem.reason, done, username);
        setPrincipal(client, principal);
        logger.debug('client authenticated', { clientId: client.id, principal: principal.kind });
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
