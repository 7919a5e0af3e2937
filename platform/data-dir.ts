/**
 * The server's data directory: SQLite inventory, the service account's MQTT secret and the first
 * admin token. Secrets are files of mode 0600 in a 0700 directory, written once.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { generateSecret } from '../common/secrets.js';
import { platformErrors } from './errors.js';

export interface DataDir {
  readonly path: string;
  readonly dbPath: string;
  readonly adminTokenPath: string;
  readonly serviceSecretPath: string;
}

export function openDataDir(dir: string): DataDir {
  const path = resolve(dir);
  try {
    mkdirSync(path, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw platformErrors.WF_PLATFORM_DATA_DIR({ path, reason: (error as Error).message });
  }
  return {
    path,
    dbPath: join(path, 'fleet.db'),
    adminTokenPath: join(path, 'admin.token'),
    serviceSecretPath: join(path, 'service.secret'),
  };
}

/** Writes a secret file readable by its owner only; `wx` so an existing one is never replaced. */
export function writeSecretFile(path: string, secret: string): void {
  writeFileSync(path, secret + '\n', { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
}

export function readSecretFile(path: string): string | undefined {
  return existsSync(path) ? readFileSync(path, 'utf8').trim() : undefined;
}

/**
 * The fleet-api's MQTT password: created on first start, reused after. A broker and an API
 * process started together on a fresh directory may both create it: the first write wins
 * (`wx`) and the other reads what it wrote.
 */
export function serviceSecret(dataDir: DataDir): string {
  const existing = readSecretFile(dataDir.serviceSecretPath);
  if (existing) return existing;
  const secret = generateSecret('wfs');
  try {
    writeSecretFile(dataDir.serviceSecretPath, secret);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return readSecretUntilWritten(dataDir.serviceSecretPath);
  }
  return secret;
}

/** The other writer created the file and writes its line right after; a few reads see it. */
function readSecretUntilWritten(path: string): string {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const secret = readSecretFile(path);
    if (secret) return secret;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
  }
  throw platformErrors.WF_PLATFORM_DATA_DIR({ path, reason: 'the service secret file stays empty' });
}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * One fleet API per data directory: SQLite has one writer, and two APIs would each run the
 * rollout jobs and publish desired states. A lock file holding the pid, not a database lock, so
 * `wasmfleet backup` (a reader) is never blocked. A lock left by a process that died is taken
 * over; one held by this very process (a test restarting the API in place) is too.
 * Returns the release function.
 */
export function lockForApi(dataDir: DataDir): () => void {
  const path = join(dataDir.path, 'fleet-api.lock');
  const take = () => writeFileSync(path, `${process.pid}\n`, { mode: 0o600, flag: 'wx' });
  try {
    take();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw platformErrors.WF_PLATFORM_DATA_DIR({ path: dataDir.path, reason: (error as Error).message });
    const holder = Number.parseInt(readSecretFile(path) ?? '', 10);
    if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
      throw platformErrors.WF_PLATFORM_API_RUNNING({ pid: holder, path: dataDir.path });
    }
    rmSync(path, { force: true });
    take();
  }
  return () => {
    if (readSecretFile(path) === String(process.pid)) rmSync(path, { force: true });
  };
}
