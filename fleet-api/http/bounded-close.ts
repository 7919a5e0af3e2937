/**
 * Closing the HTTP server within a bound. Fastify's close waits for every request in progress,
 * so one slow upload (or a client that sends half a body and stalls) would hold the whole API's
 * stop forever. Requests get `HTTP_DRAIN_MS` to finish; then every connection still open is cut.
 * New requests meanwhile get 503 (Fastify's return503OnClosing).
 */
import type { FastifyInstance } from 'fastify';

export const HTTP_DRAIN_MS = 1500;

export function installBoundedClose(app: FastifyInstance, drainMs = HTTP_DRAIN_MS): void {
  app.addHook('preClose', (done) => {
    const cut = setTimeout(() => app.server.closeAllConnections(), drainMs);
    cut.unref();
    app.server.once('close', () => clearTimeout(cut));
    done();
  });
}
