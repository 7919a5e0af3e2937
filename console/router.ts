/**
 * Hash routes (`#/devices/gw-01`): the server serves one page at `/`, so links, reloads and the
 * back button work without the server knowing the console's paths.
 */
import { useEffect, useState } from 'preact/hooks';

export type Route =
  | { page: 'fleet' }
  | { page: 'device'; id: string }
  | { page: 'deployments' }
  | { page: 'deployment'; id: string }
  | { page: 'modules' }
  | { page: 'analytics' }
  | { page: 'admin' };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  switch (parts[0]) {
    case 'devices':
      return parts[1] ? { page: 'device', id: parts[1] } : { page: 'fleet' };
    case 'deployments':
      return parts[1] ? { page: 'deployment', id: parts[1] } : { page: 'deployments' };
    case 'modules':
      return { page: 'modules' };
    case 'analytics':
      return { page: 'analytics' };
    case 'admin':
      return { page: 'admin' };
    default:
      return { page: 'fleet' };
  }
}

export const href = {
  fleet: () => '#/fleet',
  device: (id: string) => `#/devices/${encodeURIComponent(id)}`,
  deployments: () => '#/deployments',
  deployment: (id: string) => `#/deployments/${encodeURIComponent(id)}`,
  modules: () => '#/modules',
  analytics: () => '#/analytics',
  admin: () => '#/admin',
};

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}
