import { useEffect, useMemo, useState } from 'preact/hooks';
import { get } from './api.js';
import { FilterSelect, SEVERITY_FILTER } from './filters.jsx';
import { useStore } from './store.js';
import { ErrorBox, ModeBadge, SevBadge, Tag, fmtAgo, fmtNum, fmtPct, modeName, Empty, TableHead } from './util.jsx';

const PAGE = 100;

// RulesList is the rule table: mode, owner, tags, severity, live partial matches, alerts
// in the last hour (counted from the live alert feed) and evaluation errors.
export function RulesList({ session, alerts }) {
  const [rules, setRules] = useState(null);
  const [stats, setStats] = useState({});
  const [precision, setPrecision] = useState({});
  const [error, setError] = useState(null);
  const [q, setQ] = useState('');
  const [mode, setMode] = useState('');
  const [sev, setSev] = useState('');
  const [page, setPage] = useState(0);
  const st = useStore(alerts);

  useEffect(() => {
    get('/v1/rules').then((r) => setRules(r.rules || []), setError);
    const poll = () => {
      get('/v1/rules:stats')
        .then((r) => setStats(Object.fromEntries((r.rules || []).map((x) => [x.id, x]))))
        .catch(() => {});
      get('/v1/feedback:precision')
        .then((r) => setPrecision(Object.fromEntries((r.rules || []).map((x) => [x.rule_id, x]))))
        .catch(() => {});
    };
    poll();
    const t = setInterval(poll, 3000);
    return () => clearInterval(t);
  }, []);

  const lastHour = useMemo(() => {
    const since = Date.now() - 3600e3;
    const m = {};
    for (const a of st.alerts) {
      if (new Date(a.detected_at).getTime() < since) continue;
      m[a.rule_id] = (m[a.rule_id] || 0) + 1;
    }
    return m;
  }, [st.version, st.alerts.length]);

  const shown = useMemo(() => {
    if (!rules) return [];
    const words = q.toLowerCase().split(/\s+/).filter(Boolean);
    return rules.filter((r) => {
      if (mode && modeName(r.mode) !== mode) return false;
      if (sev && (r.severity || '') !== sev) return false;
      const hay = [r.id, r.name, r.owner, ...(r.tags || [])].join(' ').toLowerCase();
      return words.every((w) => hay.includes(w));
    });
  }, [rules, q, mode, sev]);
  useEffect(() => setPage(0), [q, mode, sev]);

  const pages = Math.max(1, Math.ceil(shown.length / PAGE));
  const slice = shown.slice(page * PAGE, page * PAGE + PAGE);
  return (
    <section>
      <header class="page-head">
        <div>
          <h1>Rules</h1>
          <p class="muted">{rules ? `${rules.length} rules · ${rules.filter((r) => modeName(r.mode) === 'active').length} active` : 'Loading…'}</p>
        </div>
        {session.can.edit && (
          <a class="btn btn-primary" href="#/rules/new" data-testid="new-rule">New rule</a>
        )}
      </header>
      <ErrorBox error={error} />
      <div class="toolbar" role="search">
        <label class="field grow">
          <span>Search</span>
          <input type="search" placeholder="id, name, owner or tag" value={q} onInput={(e) => setQ(e.target.value)} aria-label="Search rules" />
        </label>
        <FilterSelect label="Mode" value={mode} onChange={setMode} options={[['', 'all'], ['active', 'active'], ['shadow', 'shadow'], ['disabled', 'disabled']]} />
        <FilterSelect label="Severity" value={sev} onChange={setSev} options={SEVERITY_FILTER} />
      </div>
      <div class="card table-card">
        <table class="table" data-testid="rules-table">
          <TableHead cols={['Rule', 'Mode', 'Severity', 'Owner', 'Tags', ['Partial matches', 'num'], ['Alerts (1h)', 'num'], ['Eval errors', 'num'],
            ['Precision', 'num', "confirmed fraud / (fraud + false positives), from analysts' feedback"], 'Changed']} />
          <tbody>
            {slice.map((r) => {
              const s = stats[r.id] || {};
              const p = precision[r.id];
              return (
                <tr key={r.id} class="clickable" data-rule={r.id} onClick={() => (location.hash = '#/rules/' + encodeURIComponent(r.id))}>
                  <td>
                    <a href={'#/rules/' + encodeURIComponent(r.id)} class="rule-link">{r.name || r.id}</a>
                    <div class="sub mono">{r.id} · v{r.version}{r.shadow_of ? ` · trial beside v${r.shadow_of}` : ''}</div>
                  </td>
                  <td><ModeBadge mode={r.mode} /></td>
                  <td><SevBadge sev={r.severity} /></td>
                  <td>{r.owner || '—'}</td>
                  <td>{(r.tags || []).map((t) => <Tag>{t}</Tag>)}</td>
                  <td class="num">{fmtNum(s.live_partial_matches)}</td>
                  <td class="num">{fmtNum(lastHour[r.id] || 0)}</td>
                  <td class={'num' + (s.eval_errors ? ' warn' : '')} title={s.last_eval_error || ''}>{fmtNum(s.eval_errors)}</td>
                  <td class="num" data-testid="precision" title={p ? `${Number(p.fraud)} fraud, ${Number(p.false_positive)} false positive` : 'no feedback yet'}>{p ? fmtPct(p.precision) : '—'}</td>
                  <td title={r.author}>{fmtAgo(r.update_time)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
        {rules && shown.length === 0 && <Empty>No rule matches these filters.</Empty>}
      </div>
      {pages > 1 && (
        <nav class="pager" aria-label="Pages">
          <button class="btn btn-sm" disabled={page === 0} onClick={() => setPage(page - 1)}>Previous</button>
          <span>Page {page + 1} of {pages} · {shown.length} rules</span>
          <button class="btn btn-sm" disabled={page + 1 >= pages} onClick={() => setPage(page + 1)}>Next</button>
        </nav>
      )}
    </section>
  );
}
