/**
 * Which events one stream keeps (docs/api.md §Live events): devices (by id or by tags, resolved
 * to ids), deployments and kinds, combined with AND.
 */
import { EVENT_FAMILIES, EVENT_NAMES, type FleetEvent } from './bus.js';

export interface EventFilterQuery {
  device?: string[];
  tag?: string[];
  deployment?: string[];
  kind?: string[];
}

export interface EventFilter {
  /** undefined: every device. */
  devices: Set<string> | undefined;
  /** Tag pairs the device set is resolved from (and refreshed from). */
  tags: Record<string, string> | undefined;
  deployments: Set<string> | undefined;
  names: Set<string> | undefined;
}

export type FilterProblem = { field: string; reason: string };

export function parseEventFilter(query: EventFilterQuery): EventFilter | FilterProblem {
  let tags: Record<string, string> | undefined;
  for (const pair of query.tag ?? []) {
    const at = pair.indexOf('=');
    if (at <= 0) return { field: 'querystring/tag', reason: `'${pair}' is not key=value` };
    (tags ??= {})[pair.slice(0, at)] = pair.slice(at + 1);
  }
  let names: Set<string> | undefined;
  for (const kind of query.kind ?? []) {
    const matching = (EVENT_FAMILIES as readonly string[]).includes(kind)
      ? EVENT_NAMES.filter((name) => name === kind || name.startsWith(`${kind}.`))
      : (EVENT_NAMES as readonly string[]).includes(kind)
        ? [kind]
        : undefined;
    if (!matching) return { field: 'querystring/kind', reason: `unknown kind '${kind}' (one of ${[...EVENT_FAMILIES, ...EVENT_NAMES].join(', ')})` };
    names ??= new Set();
    for (const name of matching) names.add(name);
  }
  return {
    devices: query.device && query.device.length > 0 ? new Set(query.device) : undefined,
    tags,
    deployments: query.deployment && query.deployment.length > 0 ? new Set(query.deployment) : undefined,
    names,
  };
}

/** `tagged`: the ids the tag pairs resolved to (undefined without tags). */
export function keeps(filter: EventFilter, tagged: Set<string> | undefined, event: FleetEvent): boolean {
  if (filter.names && !filter.names.has(event.name)) return false;
  if (filter.devices || tagged) {
    if (event.deviceId === undefined) return false;
    if (filter.devices && !filter.devices.has(event.deviceId)) return false;
    if (tagged && !tagged.has(event.deviceId)) return false;
  }
  if (filter.deployments && (event.deploymentId === undefined || !filter.deployments.has(event.deploymentId))) return false;
  return true;
}
