/** The shell: sign-in, navigation (only the pages a role may open), and the routed page. */
import { useEffect, useState } from 'preact/hooks';
import { api, forgetToken, may, savedToken, type Principal } from './api.js';
import { AdminPage } from './pages/admin.js';
import { AnalyticsPage } from './pages/analytics.js';
import { DeploymentPage, DeploymentsPage } from './pages/deployments.js';
import { DevicePage } from './pages/device.js';
import { FleetPage } from './pages/fleet.js';
import { ModulesPage } from './pages/modules.js';
import { SignIn } from './pages/sign-in.js';
import { href, useRoute, type Route } from './router.js';
import { SessionContext } from './session.js';

function Page({ route, who }: { route: Route; who: Principal }) {
  switch (route.page) {
    case 'device':
      return <DevicePage id={route.id} />;
    case 'deployments':
      return <DeploymentsPage />;
    case 'deployment':
      return <DeploymentPage id={route.id} />;
    case 'modules':
      return <ModulesPage />;
    case 'analytics':
      return <AnalyticsPage />;
    case 'admin':
      return may(who.role, 'admin') ? <AdminPage /> : <p class="problem">Administration needs an admin token.</p>;
    default:
      return <FleetPage />;
  }
}

export function App() {
  const route = useRoute();
  const [who, setWho] = useState<Principal | undefined>(undefined);
  const [checking, setChecking] = useState(savedToken() !== null);
  const [reason, setReason] = useState<string | undefined>(undefined);

  useEffect(() => {
    if (savedToken() === null) return;
    api<Principal>('/whoami')
      .then(setWho)
      .catch(() => forgetToken())
      .finally(() => setChecking(false));
  }, []);
  useEffect(() => {
    // A revoked or expired token: back to sign-in, saying why.
    const onUnauthorized = () => {
      forgetToken();
      setWho(undefined);
      setReason('Your token is no longer accepted; sign in again.');
    };
    window.addEventListener('wasmfleet:unauthorized', onUnauthorized);
    return () => window.removeEventListener('wasmfleet:unauthorized', onUnauthorized);
  }, []);

  if (checking) return <p class="muted">Loading…</p>;
  if (!who) return <SignIn onSignedIn={setWho} reason={reason} />;
  const nav: Array<[string, string, Route['page'][]]> = [
    ['Fleet', href.fleet(), ['fleet', 'device']],
    ['Deployments', href.deployments(), ['deployments', 'deployment']],
    ['Modules', href.modules(), ['modules']],
    ['Analytics', href.analytics(), ['analytics']],
    ...(may(who.role, 'admin') ? [['Admin', href.admin(), ['admin']] as [string, string, Route['page'][]]] : []),
  ];
  return (
    <SessionContext.Provider value={who}>
      <header class="top">
        <span class="brand">wasmfleet</span>
        <nav>
          {nav.map(([label, link, pages]) => (
            <a key={label} href={link} class={pages.includes(route.page) ? 'active' : ''}>{label}</a>
          ))}
        </nav>
        <span class="who" data-testid="who">
          {who.name} <span class="badge muted">{who.role}</span>
          <button
            onClick={() => {
              forgetToken();
              setWho(undefined);
              setReason(undefined);
            }}
          >
            sign out
          </button>
        </span>
      </header>
      <main class="page">
        <Page route={route} who={who} />
      </main>
    </SessionContext.Provider>
  );
}
