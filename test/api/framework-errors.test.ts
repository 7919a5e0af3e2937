/**
 * One error shape for every 4xx, over real HTTP: the refusals Fastify and Node's HTTP parser make
 * before any route runs answer `{ error: { code, message, field? } }` with a WF_API_ code from the
 * registry, like the API's own. Raw sockets, because fetch refuses to send some of these.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { apiErrors } from '../../fleet-api/errors.js';
import { startApi } from './helpers/harness.js';

interface Answer {
  status: number;
  contentType: string;
  body: { error: { code: string; message: string; field?: string } };
}

/** Sends `request` verbatim and reads the answer until the server closes or the body is complete. */
function rawRequest(url: string, request: string): Promise<Answer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let data = '';
    const finish = (): void => {
      const [head = '', ...rest] = data.split('\r\n\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
      const contentType = /content-type: ([^\r\n]+)/i.exec(head)?.[1] ?? '';
      try {
        resolve({ status, contentType, body: JSON.parse(rest.join('\r\n\r\n')) as Answer['body'] });
      } catch (error) {
        reject(new Error(`not a JSON answer: ${data.slice(0, 500)} (${String(error)})`));
      }
      socket.destroy();
    };
    socket.on('data', (chunk) => {
      data += chunk;
      const length = /content-length: (\d+)/i.exec(data)?.[1];
      const bodyStart = data.indexOf('\r\n\r\n');
      if (length !== undefined && bodyStart >= 0 && Buffer.byteLength(data.slice(bodyStart + 4)) >= Number(length)) finish();
    });
    socket.on('end', finish);
    socket.on('error', reject);
    socket.write(request);
  });
}

test('framework and HTTP-parser refusals answer in our error shape with a registry code', async (t) => {
  const { url, token } = await startApi(t, { live: true });
  const auth = `Authorization: Bearer ${token}\r\n`;
  const get = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: x\r\n${auth}${extra}\r\n`;
  const post = (path: string, contentType: string, body: string) =>
    `POST ${path} HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: ${contentType}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

  const cases: Array<{ what: string; request: string; status: number; code: string; field?: string }> = [
    { what: 'invalid percent-encoding in the path', request: get('/api/v1/devices/%E0%A4%A'), status: 400, code: 'WF_API_BAD_URL', field: 'url' },
    { what: 'a path parameter over 100 characters', request: get(`/api/v1/devices/${'a'.repeat(101)}`), status: 414, code: 'WF_API_PARAM_TOO_LONG', field: 'params' },
    { what: 'a 70 KB query string', request: get(`/api/v1/devices?tag=${'x'.repeat(70 * 1024)}`), status: 431, code: 'WF_API_HEADERS_TOO_LARGE', field: 'headers' },
    { what: 'a header too large', request: get('/api/v1/devices', `X-Pad: ${'p'.repeat(32 * 1024)}\r\n`), status: 431, code: 'WF_API_HEADERS_TOO_LARGE', field: 'headers' },
    { what: 'an unsupported media type', request: post('/api/v1/devices', 'application/xml', '<device/>'), status: 415, code: 'WF_API_UNSUPPORTED_MEDIA_TYPE', field: 'headers/content-type' },
    { what: 'malformed JSON', request: post('/api/v1/devices', 'application/json', '{"id": '), status: 400, code: 'WF_API_VALIDATION', field: 'body' },
    { what: 'a body over the limit', request: post('/api/v1/devices', 'application/json', JSON.stringify({ id: 'gw-01', pad: 'y'.repeat(128 * 1024) })), status: 413, code: 'WF_API_PAYLOAD_TOO_LARGE', field: 'body' },
    { what: 'bytes that are not HTTP', request: 'HELLO\r\n\r\n', status: 400, code: 'WF_API_BAD_REQUEST' },
    { what: 'an unknown route', request: get('/api/v1/nothing'), status: 404, code: 'WF_API_ROUTE_NOT_FOUND' },
  ];
  for (const expected of cases) {
    const answer = await rawRequest(url!, expected.request);
    assert.equal(answer.status, expected.status, `${expected.what}: status`);
    assert.match(answer.contentType, /^application\/json/, `${expected.what}: JSON`);
    assert.deepEqual(Object.keys(answer.body), ['error'], `${expected.what}: one top-level key`);
    assert.equal(answer.body.error.code, expected.code, `${expected.what}: code`);
    assert.ok(expected.code in apiErrors, `${expected.what}: a registry code`);
    assert.equal(answer.body.error.field, expected.field, `${expected.what}: field`);
    assert.ok(answer.body.error.message.length > 0, `${expected.what}: a message`);
  }
});
