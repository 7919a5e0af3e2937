/**
 * The broker's message counters label a topic by scanning it (broker/metrics.ts kindOfTopic); the
 * label must be the one protocol/topics.ts parseTopic gives, for protocol topics and anything else.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kindOfTopic } from '../../broker/metrics.js';
import { DEVICE_CHANNELS, parseTopic, topics } from '../../protocol/index.js';

const byParse = (topic: string): string => {
  const parsed = parseTopic(topic);
  return parsed === undefined ? (topic.startsWith('$SYS') ? 'sys' : 'other') : parsed.kind === 'module' ? 'module' : parsed.channel;
};

test('kindOfTopic labels every topic as parseTopic reads it', () => {
  const sha = 'a'.repeat(64);
  const samples = [
    ...DEVICE_CHANNELS.map((channel) => topics.device('gw-1', channel)),
    topics.module(sha),
    `${topics.module(sha)}/extra`,
    topics.module('A'.repeat(64)),
    topics.module('abc'),
    'wf/v1/devices//status',
    'wf/v1/devices/gw-1',
    'wf/v1/devices/gw-1/',
    'wf/v1/devices/gw-1/status/more',
    'wf/v1/devices/gw-1/unknown',
    'wf/v1/devices/+/reported',
    'wf/v1/control/revoke',
    '$SYS/broker/uptime',
    'anything/else',
    '',
  ];
  for (const topic of samples) assert.equal(kindOfTopic(topic), byParse(topic), topic);
});
