import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { get, setToken, getToken } from './api.js';
import { AlertStore, HealthSampler, useStore } from './store.js';
import { RulesList } from './rules.jsx';
import { RulePage } from './rule.jsx';
import { AlertsPage } from './alerts.jsx';
import { BacktestsPage } from './backtests.jsx';
import { HealthPage } from './health.jsx';
import { AuditPage } from './audit.jsx';
import { ListsPage } from './lists.jsx';
import { SuppressionsPage } from './suppressions.jsx';
import './style.css';

const alerts = new AlertStore();
const health = new HealthSampler();

// The route is the hash: #/rules, #/rules/ID, #/alerts/ID, #/lists/NAME, #/suppressions,
// #/backtests, #/health, #/audit.
function useRoute() {
  const read = () => {
    const h = decodeURIComponent(location.hash.replace(/^#\/?/, ''));
    const [path, query] = h.split('?');
    return { parts: path ? path.split('/') : ['rules'], query: new URLSearchParams(query || '') };
  };
  const [r, set] = useState(read);
  useEffect(() => {
    const f = () => set(read());
    addEventListener('hashchange', f);
    return () => removeEventListener('hashchange', f);
  }, []);
  return r;
}

function SignIn({ onSession, error: initial }) {
  const [token, setT] = useState('');
  const [error, setError] = useState(initial || '');
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setToken(token.trim());
    try {
      onSession(await get('/v1/session'));
    } catch (err) {
      setToken('');
      setError(err.status === 401 ? 'That token is not known to this cepd.' : err.message);
    }
    setBusy(false);
  };
  return (
    <main class="signin">
      <form class="signin-card" onSubmit={submit}>
        <div class="brand brand-lg"><Logo /> cepd</div>
        <h1>Sign in</h1>
        <p class="muted">Paste the API token your administrator gave you. It is kept in this browser tab only.</p>
        <label for="token">Access token</label>
        <input id="token" type="password" autocomplete="current-password" value={token} onInput={(e) => setT(e.target.value)} required autofocus />
        {error && <div class="error-box" role="alert">{error}</div>}
        <button class="btn btn-primary btn-block" type="submit" disabled={busy}>{busy ? 'Signing in…' : 'Sign in'}</button>
      </form>
    </main>
  );
}

function Logo() {
  return (
    <svg width="22" height="22" viewBox="0 0 32 32" aria-hidden="true">
      <rect width="32" height="32" rx="7" fill="#2563eb" />
      <path d="M7 16h5l3-7 4 14 3-7h3" fill="none" stroke="#fbbf24" stroke-width="2.6" stroke-linecap="round" stroke-linejoin="round" />
    </svg>
  );
}

function Nav({ route, session, onSignOut }) {
  const st = useStore(alerts);
  const items = [
    ['rules', 'Rules'],
    ['alerts', 'Live alerts'],
    ['lists', 'Lists'],
    ['suppressions', 'Suppressions'],
    ['backtests', 'Backtests'],
    ['audit', 'Audit log'],
    ['health', 'Health'],
  ];
  const cur = route.parts[0];
  return (
    <nav class="sidebar" aria-label="Main">
      <div class="brand"><Logo /> cepd</div>
      <ul>
        {items.map(([k, label]) => (
          <li key={k}>
            <a href={'#/' + k} class={cur === k ? 'active' : ''} aria-current={cur === k ? 'page' : undefined}>
              {label}
              {k === 'alerts' && <span class={'dot dot-' + st.status} title={'stream ' + st.status} />}
            </a>
          </li>
        ))}
      </ul>
      <div class="who">
        <div class="who-name" data-testid="who">{session.name}</div>
        <div class="who-role">{session.role}{!session.auth && ' · access control off'}</div>
        {session.auth && <button class="btn btn-ghost btn-sm" onClick={onSignOut}>Sign out</button>}
      </div>
    </nav>
  );
}

function App() {
  const route = useRoute();
  const [session, setSession] = useState(null);
  const [checking, setChecking] = useState(true);
  const [signinError, setSigninError] = useState('');
  useEffect(() => {
    get('/v1/session')
      .then(setSession)
      .catch((e) => {
        if (getToken()) setSigninError('Your session has ended: sign in again.');
        setToken('');
      })
      .finally(() => setChecking(false));
  }, []);
  useEffect(() => {
    if (!session) return;
    alerts.start();
    if (session.can.manage) health.start();
    return () => {
      alerts.close();
      health.stop();
    };
  }, [session]);
  if (checking) return <div class="loading">Loading…</div>;
  if (!session) return <SignIn onSession={setSession} error={signinError} />;
  const signOut = () => {
    setToken('');
    setSession(null);
    location.hash = '#/rules';
  };
  if (!session.can.read) {
    return (
      <main class="signin">
        <div class="signin-card">
          <h1>No access</h1>
          <p>This token's role ({session.role}) may not read rules or alerts: it cannot use the UI.</p>
          <button class="btn btn-primary btn-block" onClick={signOut}>Sign in with another token</button>
        </div>
      </main>
    );
  }
  const [page, ...rest] = route.parts;
  let body;
  switch (page) {
    case 'rules':
      body = rest.length ? <RulePage id={rest[0]} tab={rest[1] || 'source'} query={route.query} session={session} /> : <RulesList session={session} alerts={alerts} />;
      break;
    case 'alerts':
      body = <AlertsPage store={alerts} selected={rest[0]} query={route.query} session={session} />;
      break;
    case 'lists':
      body = <ListsPage session={session} selected={rest[0]} />;
      break;
    case 'suppressions':
      body = <SuppressionsPage session={session} query={route.query} />;
      break;
    case 'backtests':
      body = <BacktestsPage session={session} selected={rest[0]} />;
      break;
    case 'health':
      body = <HealthPage session={session} sampler={health} />;
      break;
    case 'audit':
      body = <AuditPage />;
      break;
    default:
      body = <RulesList session={session} alerts={alerts} />;
  }
  return (
    <div class="shell">
      <Nav route={route} session={session} onSignOut={signOut} />
      <main class="content" id="main">{body}</main>
    </div>
  );
}

render(<App />, document.getElementById('app'));
