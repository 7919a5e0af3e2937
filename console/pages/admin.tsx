/** Admin: API tokens (create, revoke), signing keys and the trusted-keys list, the audit log. */
import { useState } from 'preact/hooks';
import { api, query } from '../api.js';
import { Badge, Problem, Section } from '../components/bits.js';
import { ago, short, time } from '../format.js';
import { useLiveData } from '../hooks.js';
import type { AuditEntry, KeysView, TokenView } from '../types.js';

function Tokens() {
  const tokens = useLiveData(() => api<{ tokens: TokenView[] }>('/tokens'), []);
  const [name, setName] = useState('');
  const [role, setRole] = useState('viewer');
  const [created, setCreated] = useState<string | undefined>(undefined);
  const [error, setError] = useState<Error | undefined>(undefined);
  const create = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    try {
      const answer = await api<{ token: string }>('/tokens', { method: 'POST', body: { name, role } });
      setCreated(answer.token);
      setName('');
      tokens.reload();
    } catch (failure) {
      setError(failure as Error);
    }
  };
  const revoke = async (token: TokenView) => {
    if (!confirm(`Revoke token ${token.name} (${token.id})?`)) return;
    try {
      await api(`/tokens/${token.id}`, { method: 'DELETE' });
      tokens.reload();
    } catch (failure) {
      setError(failure as Error);
    }
  };
  return (
    <Section title="API tokens">
      <form class="filters" onSubmit={(e) => void create(e)}>
        <input placeholder="name, e.g. ci-deployer" value={name} onInput={(e) => setName(e.currentTarget.value)} required aria-label="token name" />
        <select value={role} onChange={(e) => setRole(e.currentTarget.value)} aria-label="role">
          <option>viewer</option>
          <option>operator</option>
          <option>admin</option>
        </select>
        <button type="submit">create token</button>
      </form>
      {created && (
        <p class="notice">
          New token, shown once: <code class="secret">{created}</code> <button onClick={() => setCreated(undefined)}>done</button>
        </p>
      )}
      <Problem error={error ?? tokens.error} />
      <table class="grid" data-testid="tokens-table">
        <thead><tr><th>id</th><th>name</th><th>role</th><th>created</th><th>last used</th><th>state</th><th /></tr></thead>
        <tbody>
          {tokens.data?.tokens.map((t) => (
            <tr key={t.id}>
              <td><code>{t.id}</code></td>
              <td>{t.name}</td>
              <td>{t.role}</td>
              <td class="small">{time(t.createdAt)}</td>
              <td class="small">{ago(t.lastUsedAt)}</td>
              <td>{t.revokedAt ? <Badge state="revoked" /> : <Badge state="active" />}</td>
              <td>{t.revokedAt ? null : <button class="danger" onClick={() => void revoke(t)}>revoke</button>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Section>
  );
}

function Keys() {
  const keys = useLiveData(() => api<KeysView>('/keys'), []);
  const k = keys.data;
  return (
    <Section title="Signing keys">
      <Problem error={keys.error} />
      {k && (
        <>
          <dl class="facts">
            <dt>root key</dt><dd><code>{short(k.root.keyId, 16)}</code> {k.root.online ? 'on this server' : 'offline'}</dd>
            <dt>fleet key</dt><dd><code>{short(k.fleetKeyId, 16)}</code></dd>
            <dt>trusted list</dt><dd>version {k.trustedKeys.version}, expires {time(k.trustedKeys.expiresAt)}</dd>
          </dl>
          <table class="grid" data-testid="keys-table">
            <thead><tr><th>key id</th><th>name</th><th>role</th></tr></thead>
            <tbody>
              {k.trustedKeys.keys.map((key) => (
                <tr key={key.keyId}><td><code>{short(key.keyId, 16)}</code></td><td>{key.name}</td><td>{key.role}</td></tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </Section>
  );
}

function Audit() {
  const [failed, setFailed] = useState(false);
  const [action, setAction] = useState('');
  const audit = useLiveData(() => api<{ entries: AuditEntry[] }>('/audit' + query({ limit: 100, failed: failed ? true : undefined, action: action || undefined })), [failed, action], { pollMs: 10000 });
  return (
    <Section title="Audit log (newest 100)">
      <div class="filters">
        <input placeholder="action, e.g. deployment." value={action} onChange={(e) => setAction(e.currentTarget.value)} aria-label="action" />
        <label><input type="checkbox" checked={failed} onChange={(e) => setFailed(e.currentTarget.checked)} /> failed only</label>
      </div>
      <Problem error={audit.error} />
      <table class="grid" data-testid="audit-table">
        <thead><tr><th>when</th><th>who</th><th>action</th><th>target</th><th>status</th><th>from</th></tr></thead>
        <tbody>
          {audit.data?.entries.map((e) => (
            <tr key={e.id}>
              <td class="small">{time(e.at)}</td>
              <td>{e.actorName ?? '—'} <span class="muted">{e.actorRole ?? ''}</span></td>
              <td>{e.action}</td>
              <td class="small">{e.target ?? ''}</td>
              <td class={e.status >= 400 ? 'bad' : ''}>{e.status}</td>
              <td class="small">{e.remoteAddress ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Section>
  );
}

export function AdminPage() {
  return (
    <div>
      <h1>Admin</h1>
      <Tokens />
      <Keys />
      <Audit />
    </div>
  );
}
