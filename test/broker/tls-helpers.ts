/** Certificates for TLS tests, made by the real `wasmfleet certs` code into a temp dir. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { initCertificates, type InitResult } from '../../cli/commands/certs.js';

export function makeCertificates(t: TestContext, clients: string[] = []): InitResult {
  const dir = mkdtempSync(join(tmpdir(), 'wf-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return initCertificates({ dir, clients });
}
