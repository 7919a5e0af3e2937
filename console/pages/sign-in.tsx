/** Sign-in with an API token: checked against the API (whoami), then kept in sessionStorage only. */
import { useState } from 'preact/hooks';
import { api, saveToken, type Principal } from '../api.js';

export function SignIn({ onSignedIn, reason }: { onSignedIn: (who: Principal) => void; reason?: string | undefined }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | undefined>(reason);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const who = await api<Principal>('/whoami', { token: token.trim() });
      saveToken(token.trim());
      onSignedIn(who);
    } catch (failure) {
      setError((failure as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="sign-in">
      <form onSubmit={(e) => void submit(e)} data-testid="sign-in">
        <h1>wasmfleet</h1>
        <p>Sign in with an API token (<code>wasmfleet token create NAME --role viewer|operator|admin</code>; the server's first admin token is in <code>data/admin.token</code>).</p>
        <input type="password" autoComplete="off" placeholder="wft_…" value={token} onInput={(e) => setToken(e.currentTarget.value)} aria-label="API token" required />
        <button type="submit" disabled={busy}>Sign in</button>
        {error && <p class="problem" role="alert">{error}</p>}
        <p class="muted small">The token stays in this tab's session storage and is sent only as a header to this server.</p>
      </form>
    </main>
  );
}
