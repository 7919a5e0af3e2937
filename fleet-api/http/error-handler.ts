/**
 * One error shape for every failure: `{ error: { code, message, field? } }`. Registry errors pass
 * through; Fastify's own validation errors become WF_API_VALIDATION with the field named; the
 * framework's routing errors (bad percent-encoding, a path parameter over maxParamLength) come
 * through `frameworkErrors`, and what Node's HTTP parser refuses before Fastify sees a request
 * (headers or query too large, malformed HTTP, timeouts) through `clientErrorHandler`, written
 * here in the same shape.
 */
import type { Socket } from 'node:net';
import { maxHeaderSize, STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
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
  /** The request's content type and path, for the errors that name them. */
  readonly contentType?: string;
  readonly path?: string;
}

/** Fastify's default, kept: ids and names in our paths are far shorter. */
export const MAX_PARAM_LENGTH = 100;

function sendApiError(reply: FastifyReply, apiError: WasmfleetError): FastifyReply {
  const field = apiError.details.field;
  return reply.status(apiError.status).send({
    error: { code: apiError.code, message: apiError.message, ...(typeof field === 'string' ? { field } : {}) },
  });
}

function requestContext(request: FastifyRequest, limits: { bodyLimitBytes: number }): BodyLimitInfo {
  const limit = request.routeOptions.bodyLimit ?? limits.bodyLimitBytes;
  const path = request.url.split('?')[0] ?? '';
  return {
    limit,
    route: `${request.method} ${request.routeOptions.url ?? path}`,
    option: limit === limits.bodyLimitBytes ? 'bodyLimitBytes' : 'largeBodyLimitBytes',
    contentType: String(request.headers['content-type'] ?? '').slice(0, 100),
    path: path.slice(0, 200),
  };
}

/** For Fastify's `frameworkErrors` option: routing errors raised before any route runs. */
export function frameworkErrorHandler(limits: { bodyLimitBytes: number }) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    void sendApiError(reply, toApiError(error, requestContext(request, limits)));
  };
}

/**
 * For Fastify's `clientErrorHandler` option: Node's HTTP parser refused the bytes before there was
 * a request, so the answer is written on the socket directly, then the connection is closed.
 */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const apiError =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? apiErrors.WF_API_HEADERS_TOO_LARGE({ max: maxHeaderSize, field: 'headers' })
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? apiErrors.WF_API_REQUEST_TIMEOUT()
        : apiErrors.WF_API_BAD_REQUEST({ reason: error.code ?? 'unparsable' });
  const field = apiError.details.field;
  const body = JSON.stringify({ error: { code: apiError.code, message: apiError.message, ...(typeof field === 'string' ? { field } : {}) } });
  if (socket.writable) {
    socket.end(
      `HTTP/1.1 ${apiError.status} ${STATUS_CODES[apiError.status] ?? 'Error'}\r\n` +
        `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroySoon();
}

export function toApiError(error: unknown, bodyLimit: BodyLimitInfo): WasmfleetError {
  if (isWasmfleetError(error)) return error;
  const fastifyError = error as FastifyError & { validation?: AjvIssue[]; validationContext?: string };
  if (Array.isArray(fastifyError.validation) && fastifyError.validation.length > 0) {
    return fromValidation(fastifyError.validationContext, fastifyError.validation[0]!);
  }
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return apiErrors.WF_API_PAYLOAD_TOO_LARGE({ ...bodyLimit, field: 'body' });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return apiErrors.WF_API_UNSUPPORTED_MEDIA_TYPE({ contentType: bodyLimit.contentType ?? '', field: 'headers/content-type' });
    case 'FST_ERR_BAD_URL':
      return apiErrors.WF_API_BAD_URL({ path: bodyLimit.path ?? '', field: 'url' });
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return apiErrors.WF_API_PARAM_TOO_LONG({ max: MAX_PARAM_LENGTH, field: 'params' });
  }
  const status = fastifyError.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    // Unparsable JSON, an empty JSON body and the like: the body as a whole is at fault.
    return apiErrors.WF_API_VALIDATION({ field: 'body', reason: fastifyError.message });
  }
  return apiErrors.WF_API_INTERNAL({ reason: 'see the server log' });
}

export function installErrorHandling(app: FastifyInstance, logger: Logger, limits: { bodyLimitBytes: number; largeBodyLimitBytes: number }): void {
  app.setErrorHandler((error, request, reply) => {
    const apiError = toApiError(error, requestContext(request, limits));
    if (apiError.status >= 500) logger.error('request failed', { method: request.method, url: request.url, error });
    return sendApiError(reply, apiError);
  });
  app.setNotFoundHandler((request, reply) => {
    const error = apiErrors.WF_API_ROUTE_NOT_FOUND({ method: request.method, url: request.url.split('?')[0] });
    return reply.status(error.status).send({ error: { code: error.code, message: error.message } });
  });
}
