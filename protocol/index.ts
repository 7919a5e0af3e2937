export * from './version.js';
export * from './ids.js';
export * from './topics.js';
export * from './manifest.js';
export * from './limits.js';
export * from './messages.js';
export * from './codec.js';
export * from './content.js';
export { protocolErrors } from './errors.js';
