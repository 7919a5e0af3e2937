import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { brokerErrors } from '../../broker/errors.js';

/** Fastify-style: every code is documented, and the docs name no code that does not exist. */
test('every WF_BROKER_ code is documented in docs/broker.md and none there is stale', () => {
  // dist/test/broker → repository root
  const docPath = fileURLToPath(new URL('../../../docs/broker.md', import.meta.url));
  const doc = readFileSync(docPath, 'utf8');
  const codes = Object.keys(brokerErrors);
  for (const code of codes) assert.ok(doc.includes(`\`${code}\``), `${code} is not documented`);
  const documented = new Set(doc.match(/WF_BROKER_[A-Z0-9_]+/g) ?? []);
  for (const code of documented) assert.ok(codes.includes(code), `${code} is documented but does not exist`);
});
