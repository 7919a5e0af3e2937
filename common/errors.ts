/**
 * The shape every part's error registry shares. Each part keeps its own registry file
 * (`broker/errors.ts`, `fleet-api/errors.ts`, ...) built with `defineErrors`, so codes are
 * stable, documented in one place per part, and never reused.
 */
export interface ErrorSpec {
  /** Message template; `{name}` placeholders are filled from the details object. */
  readonly message: string;
  /** HTTP status when the error crosses the REST boundary. */
  readonly status?: number;
}

export class WasmfleetError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: string, message: string, status = 500, details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'WasmfleetError';
    this.code = code;
    this.status = status;
    this.details = details;
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, ...this.details };
  }
}

export type ErrorFactory = ((details?: Record<string, unknown>) => WasmfleetError) & {
  readonly code: string;
  readonly spec: ErrorSpec;
};

export function formatMessage(template: string, details: Record<string, unknown>): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) =>
    key in details ? String(details[key]) : whole,
  );
}

/** Builds a frozen registry: `errors.WF_X({ field: 'id' })` creates the error. */
export function defineErrors<const T extends Record<string, ErrorSpec>>(
  specs: T,
): { readonly [K in keyof T]: ErrorFactory } {
  const registry: Record<string, ErrorFactory> = {};
  for (const [code, spec] of Object.entries(specs)) {
    if (!/^WF_[A-Z0-9_]+$/.test(code)) throw new TypeError(`error code ${code} must match WF_[A-Z0-9_]+`);
    const factory = (details: Record<string, unknown> = {}) =>
      new WasmfleetError(code, formatMessage(spec.message, details), spec.status ?? 500, details);
    registry[code] = Object.assign(factory, { code, spec });
  }
  return Object.freeze(registry) as { readonly [K in keyof T]: ErrorFactory };
}

export function isWasmfleetError(value: unknown, code?: string): value is WasmfleetError {
  return value instanceof WasmfleetError && (code === undefined || value.code === code);
}

/** A readable one-line reason for any thrown value, for reported state and logs. */
export function reasonOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
