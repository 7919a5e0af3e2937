/**
 * Runs Debian's mosquitto_pub / mosquitto_sub (package mosquitto-clients, installed by .ci/run)
 * as a third-party MQTT client. Under CI=true a missing tool fails the test; elsewhere the test
 * is skipped with the install command, so a developer without the package still gets a hint.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { TestContext } from 'node:test';

export interface ToolResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function hasMosquittoClients(): boolean {
  return ['mosquitto_pub', 'mosquitto_sub'].every((tool) => spawnSync(tool, ['--help'], { stdio: 'ignore' }).error === undefined);
}

/** True when the tests may run; fails the test under CI when the tools are missing. */
export function requireMosquittoClients(t: TestContext): boolean {
  if (hasMosquittoClients()) return true;
  const message = 'mosquitto_pub/mosquitto_sub not found: apt-get install -y mosquitto-clients';
  if (process.env.CI === 'true') throw new Error(message);
  t.skip(message);
  return false;
}

/** Runs a tool to completion, killing it after timeoutMs (a subscriber waiting for a message that never comes). */
export function runTool(t: TestContext, tool: 'mosquitto_pub' | 'mosquitto_sub', args: string[], timeoutMs = 5000): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    t.after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Connection flags for a device over plain TCP. */
export const tcpArgs = (url: string, username: string, password: string, clientId = username): string[] => {
  const { hostname, port } = new URL(url);
  return ['-h', hostname, '-p', port, '-V', 'mqttv311', '-i', clientId, '-u', username, '-P', password];
};
