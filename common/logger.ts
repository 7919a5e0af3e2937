/**
 * Structured JSON-lines logging. Every line carries a timestamp, level, the component and any
 * context ids (deviceId, module, deploymentId) bound with `child`, so logs from a fleet can be
 * filtered by machine rather than by eye.
 */
import { isoTime } from './iso-time.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(bindings: Record<string, unknown>): Logger;
  readonly level: LogLevel;
}

export interface LoggerOptions {
  level?: LogLevel;
  component?: string;
  /** Where lines go; stderr by default so stdout stays free for command output. */
  write?: (line: string) => void;
  bindings?: Record<string, unknown>;
}

export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === 'string' && value in LEVEL_RANK;
}

function levelFromEnv(): LogLevel {
  const fromEnv = process.env.WASMFLEET_LOG_LEVEL;
  return isLogLevel(fromEnv) ? fromEnv : 'info';
}

function serialiseError(value: unknown): unknown {
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return { message: value.message, ...(code !== undefined ? { code } : {}) };
  }
  return value;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? levelFromEnv();
  const write = options.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const bindings = { ...(options.component ? { component: options.component } : {}), ...options.bindings };
  const threshold = LEVEL_RANK[level];

  const emit = (lvl: Exclude<LogLevel, 'silent'>, msg: string, fields?: Record<string, unknown>) => {
    if (LEVEL_RANK[lvl] < threshold) return;
    const record: Record<string, unknown> = { time: isoTime(), level: lvl, ...bindings, msg };
    if (fields) for (const [key, value] of Object.entries(fields)) record[key] = serialiseError(value);
    write(JSON.stringify(record));
  };

  return {
    level,
    debug: (msg, fields) => emit('debug', msg, fields),
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
    child: (more) => createLogger({ level, write, bindings: { ...bindings, ...more } }),
  };
}

/** For tests and library use where nothing should print. */
export const silentLogger: Logger = createLogger({ level: 'silent' });
