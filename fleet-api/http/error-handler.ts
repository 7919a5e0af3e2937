/**
 * One error shape for every failure: `{ error: { code, message, field? } }`. Registry errors pass
 * through; Fastify's own validation errors become WF_API_VALIDATION with the field named.
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import type { Logger } from '../../common/logger.js';
import { isWasmfleetError, type WasmfleetError } from '../../common/errors.js';
import { apiErrors } from '../errors.js';

interface AjvIssue {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** Fastify reports `body` + `/target/devices/0`; we name it `body/target/devices/0`. */
function fromValidation(context: string | undefined, issue: AjvIssue): WasmfleetError {
  let path = issue.instancePath ?? '';
  let message = issue.message ?? 'is invalid';
  if (issue.keyword === 'required' && typeof issue.params?.missingProperty === 'string') {
    path += `/${issue.params.missingProperty}`;
    message = 'is required';
  } else if (issue.keyword === 'additionalProperties' && typeof issue.params?.additionalProperty === 'string') {
    path += `/${issue.params.additionalProperty}`;
    message = 'is not an allowed property';
  }
  const field = `${context ?? 'request'}${path}`;
  return apiErrors.WF_API_VALIDATION({ field, reason: message });
}

/** Which body limit applied to the request that failed, so a 413 can say which option to raise. */
export interface BodyLimitInfo {
  readonly limit: number;
  readonly route: string;
  readonly option: 'bodyLimitBytes' | 'largeBodyLimitBytes';
}

export function toApiError(error: unknown, bodyLimit: BodyLimitInfo): WasmfleetError {
  if (isWasmfleetError(error)) return error;
  const fastifyError = error as FastifyError & { validation?: AjvIssue[]; validationContext?: string };
  if (Array.isArray(fastifyError.validation) && fastifyError.validation.length > 0) {
    return fromValidation(fastifyError.validationContext, fastifyError.validation[0]!);
  }
  if (fastifyError.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return apiErrors.WF_API_PAYLOAD_TOO_LARGE({ ...bodyLimit, field: 'body' });
  const status = fastifyError.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    // Unparsable JSON, wrong content type and the like: the request as a whole is at fault.
    const field = fastifyError.code?.startsWith('FST_ERR_CTP_INVALID_MEDIA_TYPE') ? 'headers/content-type' : 'body';
    return apiErrors.WF_API_VALIDATION({ field, reason: fastifyError.message });
  }
  return apiErrors.WF_API_INTERNAL({ reason: 'see the server log' });
}

export function installErrorHandling(app: FastifyInstance, logger: Logger, limits: { bodyLimitBytes: number; largeBodyLimitBytes: number }): void {
  app.setErrorHandler((error, request, reply) => {
    const limit = request.routeOptions.bodyLimit ?? limits.bodyLimitBytes;
    const apiError = toApiError(error, {
      limit,
      route: `${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]}`,
      option: limit === limits.bodyLimitBytes ? 'bodyLimitBytes' : 'largeBodyLimitBytes',
    });
    if (apiError.status >= 500) logger.error('request failed', { method: request.method, url: request.url, error });
    const field = apiError.details.field;
    return reply.status(apiError.status).send({
      error: { code: apiError.code, message: apiError.message, ...(typeof field === 'string' ? { field } : {}) },
    });
  });
  app.setNotFoundHandler((request, reply) => {
    const error = apiErrors.WF_API_ROUTE_NOT_FOUND({ method: request.method, url: request.url.split('?')[0] });
    return reply.status(error.status).send({ error: { code: error.code, message: error.message } });
  });
}
