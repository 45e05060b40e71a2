import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { get, qs } from './api.js';
import { FilterSelect, SEVERITY_FILTER } from './filters.jsx';
import { useStore } from './store.js';
import { AlertExplain } from './explain.jsx';
import { AlertFeedback, SuppressedBadge, SuppressedNote } from './feedback.jsx';
import { Empty, ErrorBox, ModeBadge, SevBadge, fmtAgo, fmtTime } from './util.jsx';

const ROW = 40;

// emitSummary is an alert's emitted values on one line.
function emitSummary(a) {
  const e = a.emit || {};
  return Object.entries(e)
    .map(([k, v]) => `${k}=${typeof v === 'number' ? +v.toFixed(2) : typeof v === 'object' ? JSON.stringify(v) : v}`)
    .join('  ');
}
const WINDOWS = { '15m': 15 * 60e3, '1h': 3600e3, '24h': 86400e3, all: 0 };

// AlertsPage is the live feed (SSE, resumed after a reconnect), filterable by rule,
// severity, key, mode and time, virtualised so 10,000 alerts scroll smoothly, with an
// alert's detail and its key's history beside it.
export function AlertsPage({ store, selected, query, session }) {
  const st = useStore(store);
  const [rule, setRule] = useState(query.get('rule') || '');
  const [sev, setSev] = useState('');
  const [key, setKey] = useState(query.get('key') || '');
  const [mode, setMode] = useState('');
  const [win, setWin] = useState('all');
  const [top, setTop] = useState(0);
  const [height, setHeight] = useState(600);
  const box = useRef();

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setHeight(el.clientHeight));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  useEffect(() => {
    if (query.get('key') !== null) setKey(query.get('key'));
  }, [query.get('key')]);

  const ruleIds = useMemo(() => [...new Set(st.alerts.map((a) => a.rule_id))].sort(), [st.version, st.alerts.length]);
  const shown = useMemo(() => {
    const since = WINDOWS[win] ? Date.now() - WINDOWS[win] : 0;
    const k = key.trim();
    return st.alerts.filter(
      (a) =>
        (!rule || a.rule_id === rule) &&
        (!sev || a.severity === sev) &&
        (!k || a.key === k) &&
        (!mode || a.mode === mode) &&
        (!since || new Date(a.detected_at).getTime() >= since),
    );
  }, [st.version, st.alerts.length, rule, sev, key, mode, win]);

  const first = Math.max(0, Math.floor(top / ROW) - 5);
  const last = Math.min(shown.length, Math.ceil((top + height) / ROW) + 5);
  const now = Date.now();
  const onKey = (e) => {
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
    e.preventDefault();
    const i = Math.max(0, shown.findIndex((a) => a.id === selected));
    const j = Math.min(shown.length - 1, Math.max(0, i + (e.key === 'ArrowDown' ? 1 : -1)));
    if (shown[j]) {
      location.hash = '#/alerts/' + encodeURIComponent(shown[j].id);
      const el = box.current;
      if (j * ROW < el.scrollTop) el.scrollTop = j * ROW;
      else if ((j + 1) * ROW > el.scrollTop + el.clientHeight) el.scrollTop = (j + 1) * ROW - el.clientHeight;
    }
  };

  return (
    <section class="alerts-page">
      <header class="page-head">
        <div>
          <h1>Live alerts</h1>
          <p class="muted" aria-live="polite" data-resumed={st.resumed ?? undefined}>
            <span class={'dot dot-' + st.status} /> {st.status === 'live' ? 'Live' : st.status === 'reconnecting' ? 'Reconnecting… (will resume after the last alert seen)' : 'Connecting…'}
            {st.resumed === 'false' && ' · the server no longer held the last alert seen: some may have been missed'}
            {' · '}{shown.length.toLocaleString()} of {st.alerts.length.toLocaleString()} alerts
          </p>
        </div>
      </header>
      <div class="toolbar" role="search">
        <FilterSelect label="Rule" value={rule} onChange={setRule} testid="filter-rule" options={[['', 'all rules'], ...ruleIds.map((r) => [r, r])]} />
        <FilterSelect label="Severity" value={sev} onChange={setSev} options={SEVERITY_FILTER} />
        <label class="field">
          <span>Key</span>
          <input type="search" value={key} onInput={(e) => setKey(e.target.value)} placeholder="exact key" />
        </label>
        <FilterSelect label="Mode" value={mode} onChange={setMode} options={[['', 'all'], ['active', 'active'], ['shadow', 'shadow']]} />
        <FilterSelect label="Detected" value={win} onChange={setWin}
          options={[['15m', 'last 15 minutes'], ['1h', 'last hour'], ['24h', 'last 24 hours'], ['all', 'any time']]} />
      </div>
      <div class={'split' + (selected ? ' split-open' : '')}>
        <div class="card feed" role="table" aria-label="Alerts" aria-rowcount={shown.length}>
          <div class="feed-row feed-head" role="row">
            <span role="columnheader">Detected</span>
            <span role="columnheader">Rule</span>
            <span role="columnheader">Key</span>
            <span role="columnheader">Emitted</span>
            <span role="columnheader">Severity</span>
            <span role="columnheader">Mode</span>
          </div>
          <div class="feed-body" ref={box} onScroll={(e) => setTop(e.currentTarget.scrollTop)} onKeyDown={onKey} data-testid="feed">
            <div style={{ height: shown.length * ROW + 'px', position: 'relative' }} role="rowgroup">
              {shown.slice(first, last).map((a, i) => {
                const fresh = now - new Date(a.detected_at).getTime() < 4000;
                return (
                  <a
                    role="row"
                    key={a.id}
                    href={'#/alerts/' + encodeURIComponent(a.id)}
                    class={'feed-row' + (a.id === selected ? ' selected' : '') + (fresh ? ' fresh' : '')}
                    style={{ top: (first + i) * ROW + 'px' }}
                    data-alert={a.id}
                    data-rule={a.rule_id}
                    data-key={a.key}
                  >
                    <span role="cell" class="mono nowrap" title={fmtTime(a.detected_at)}>{fmtTime(a.detected_at).slice(11)}</span>
                    <span role="cell" class="mono ellipsis">{a.rule_id}</span>
                    <span role="cell" class="mono ellipsis">{a.key}</span>
                    <span role="cell" class="ellipsis small muted" title={emitSummary(a)}>{emitSummary(a)}</span>
                    <span role="cell"><SevBadge sev={a.severity} /></span>
                    <span role="cell"><ModeBadge mode={a.mode} />{a.kind === 'timeout' && <span class="badge">timeout</span>}<SuppressedBadge s={a.suppressed} /></span>
                  </a>
                );
              })}
            </div>
            {shown.length === 0 && <Empty>No alerts{st.alerts.length ? ' match these filters' : ' yet'}.</Empty>}
          </div>
        </div>
        {selected && <AlertDetail id={selected} store={store} session={session} />}
      </div>
    </section>
  );
}

function AlertDetail({ id, store, session }) {
  const [alert, setAlert] = useState(() => store.alerts.find((a) => a.id === id) || null);
  const [history, setHistory] = useState([]);
  const [error, setError] = useState(null);
  useEffect(() => {
    setError(null);
    setAlert(store.alerts.find((a) => a.id === id) || null);
    get('/v1/alerts/' + encodeURIComponent(id)).then(setAlert, (e) => {
      if (!store.alerts.find((a) => a.id === id)) setError(e);
    });
  }, [id]);
  useEffect(() => {
    if (!alert) return;
    get('/v1/alerts' + qs({ key: alert.key, limit: 50 })).then((r) => setHistory(r.alerts || []), () => {});
  }, [alert && alert.key]);
  const close = () => (location.hash = '#/alerts');
  return (
    <aside class="card detail" aria-label="Alert detail" data-testid="alert-detail" onKeyDown={(e) => e.key === 'Escape' && close()}>
      <div class="detail-head">
        <h2>Alert</h2>
        <button class="btn btn-ghost btn-sm" onClick={close} aria-label="Close the alert">✕</button>
      </div>
      <ErrorBox error={error} />
      {alert && (
        <>
          <dl class="kv">
            <dt>Rule</dt>
            <dd>
              <a href={`#/rules/${encodeURIComponent(alert.rule_id)}/source?at=${encodeURIComponent(alert.detected_at)}`} title="the rule as it was when this alert was made">{alert.rule_id}</a>
              {' '}<span class="muted mono">{alert.rule_version}</span>
            </dd>
            <dt>Key</dt>
            <dd class="mono"><a href={'#/alerts?key=' + encodeURIComponent(alert.key)}>{alert.key}</a></dd>
            <dt>Severity</dt><dd><SevBadge sev={alert.severity} /> <ModeBadge mode={alert.mode} /> <span class="badge">{alert.kind}</span></dd>
            <dt>Events</dt><dd>{fmtTime(alert.first_event_time)} → {fmtTime(alert.last_event_time)}</dd>
            <dt>Detected</dt><dd>{fmtTime(alert.detected_at)} ({fmtAgo(alert.detected_at)})</dd>
            <dt>Alert id</dt><dd class="mono small">{alert.id}</dd>
          </dl>
          <SuppressedNote s={alert.suppressed} />
          <AlertFeedback alert={alert} session={session} />
          <AlertExplain alert={alert} />
          <h3>History of key {alert.key}</h3>
          <ul class="history" data-testid="key-history">
            {history.map((h) => (
              <li class={h.id === alert.id ? 'current' : ''}>
                <a href={'#/alerts/' + encodeURIComponent(h.id)}>
                  <span class="mono">{fmtTime(h.detected_at)}</span> <span class="mono">{h.rule_id}</span> <SevBadge sev={h.severity} />
                </a>
              </li>
            ))}
          </ul>
        </>
      )}
    </aside>
  );
}
