/**
 * mqtt.js' failover list (`servers`): it builds each new connection to the next entry, round
 * robin, so a client with several broker nodes (docs/scale-out.md) leaves a dead or refusing node
 * for the next on its next reconnect. Used by the agent and by the fleet API's link.
 */
import type { IClientOptions } from 'mqtt';

type Server = NonNullable<IClientOptions['servers']>[number];

export function failoverServers(urls: readonly string[]): Server[] {
  return urls.map((url) => {
    const parsed = new URL(url);
    // mqtt.js builds streams for every scheme our configs allow; its .d.ts lists fewer names.
    const scheme = parsed.protocol.slice(0, -1);
    const port = parsed.port ? Number(parsed.port) : scheme === 'mqtts' || scheme === 'tls' ? 8883 : scheme === 'ws' ? 80 : scheme === 'wss' ? 443 : 1883;
    // URL keeps the brackets of an IPv6 literal; a socket wants the bare address.
    return { host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'), port, protocol: scheme as Server['protocol'] };
  });
}
