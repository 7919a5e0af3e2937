/**
 * A real headless Chromium (Debian's /usr/bin/chromium) driven by playwright-core, which
 * downloads no browser. Closed after the test. Without the binary the test is skipped locally and
 * fails under CI=true (.ci/run installs it). Also: the built console (built here if missing) and
 * the folder where browser tests leave their screenshots (.tmp/console/, gitignored).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { fromRoot } from '../../common/paths.js';

export const CHROMIUM_PATH = process.env.WASMFLEET_CHROMIUM ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** Why a browser test cannot run here, or undefined when it can. Under CI a missing browser is a failure. */
export function browserUnavailable(): string | undefined {
  if (existsSync(CHROMIUM_PATH)) return undefined;
  if (process.env.CI === 'true') throw new Error(`${CHROMIUM_PATH} is missing: install Debian's chromium package`);
  return `${CHROMIUM_PATH} not installed`;
}

export async function launchBrowser(t: Pick<TestContext, 'after'>): Promise<Browser> {
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
  t.after(() => browser.close());
  return browser;
}

/** Builds dist/console/ (scripts/build-console.mjs) unless it is there already. */
export function ensureConsoleBuilt(): void {
  if (existsSync(fromRoot('dist', 'console', 'index.html'))) return;
  const built = spawnSync(process.execPath, [fromRoot('scripts', 'build-console.mjs')], { encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`console build failed: ${built.stderr}`);
}

/** Where screenshots go: $WASMFLEET_ARTIFACTS/console or .tmp/console in the checkout. */
export function artifactsDir(): string {
  const dir = process.env.WASMFLEET_ARTIFACTS ? join(process.env.WASMFLEET_ARTIFACTS, 'console') : fromRoot('.tmp', 'console');
  mkdirSync(dir, { recursive: true });
  return dir;
}
