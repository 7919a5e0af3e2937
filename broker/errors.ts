/**
 * The broker's error registry. Codes are stable and never reused; each is listed in
 * docs/broker.md (test/broker/errors.test.ts enforces it). Errors that refuse a client carry the
 * clientId and a reason in their details so the JSON log line can be filtered by machine.
 */
import { defineErrors } from '../common/errors.js';

export const brokerErrors = defineErrors({
  WF_BROKER_BAD_OPTION: { message: "invalid broker option '{option}': {reason}" },
  WF_BROKER_LISTEN_FAILED: { message: 'broker could not listen on {host}:{port}: {reason}' },
  WF_BROKER_AUTH_REFUSED: { message: "connection of client '{clientId}' refused: {reason}" },
  WF_BROKER_VERIFIER_FAILED: { message: "credential verifier failed for client '{clientId}': {reason}" },
  WF_BROKER_ACL_PUBLISH_REFUSED: { message: "publish to '{topic}' refused for {principal}: {reason}" },
  WF_BROKER_ACL_SUBSCRIBE_REFUSED: { message: "subscription to '{topic}' refused for {principal}: {reason}" },
  WF_BROKER_PAYLOAD_TOO_LARGE: {
    message: "payload of {bytes} bytes on '{topic}' exceeds the {kind} cap of {cap} bytes",
  },
  WF_BROKER_PACKET_TOO_LARGE: { message: 'packet of {bytes} bytes exceeds maxPacketBytes {limit}' },
  WF_BROKER_MALFORMED_LENGTH: { message: 'malformed MQTT remaining length: {reason}' },
  WF_BROKER_PUBLISH_RATE_LIMITED: { message: "client '{clientId}' exceeded {rate} publishes/s (burst {burst})" },
  WF_BROKER_CONNECTION_RATE_LIMITED: { message: "connection from '{remoteAddress}' refused: connection rate exceeded" },
  WF_BROKER_TOPIC_TOO_DEEP: { message: "topic '{topic}' has {levels} levels, more than maxTopicDepth {limit}" },
  WF_BROKER_TLS_FILE: { message: "TLS option '{option}': cannot read {path}: {reason}" },
  WF_BROKER_TLS_HANDSHAKE_FAILED: { message: "TLS handshake from '{remoteAddress}' failed: {reason}" },
  WF_BROKER_CERTIFICATE_MISMATCH: { message: "client '{clientId}' certificate names {names}, not {identity}" },
  WF_BROKER_ANONYMOUS_ENABLED: { message: 'anonymous MQTT access is enabled (development only): {scope}' },
  WF_BROKER_REDIS_UNAVAILABLE: { message: 'cluster Redis unavailable: {reason}' },
  WF_BROKER_DEVICE_REVOKED: { message: "device '{deviceId}' revoked: {clients} client(s) disconnected" },
});

