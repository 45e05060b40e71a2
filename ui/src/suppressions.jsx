import { useEffect, useState } from 'preact/hooks';
import { api, get, post, qs } from './api.js';
import { Confirm, Empty, ErrorBox, fmtAgo, fmtTime, whileBusy, TableHead } from './util.jsx';
import { AuditLog } from './audit.jsx';

// SuppressionsPage is the analysts' suppressions: a key (for one rule or all) kept from
// the blocking sinks and from decisions until a time, with a reason. The alerts are still
// recorded, marked suppressed. An analyst creates and lifts them; everyone sees them, and
// the audit of every analyst action (suppressions and feedback). #/suppressions?key=&rule=
// fills the form in (the alert detail links here).
export function SuppressionsPage({ session, query }) {
  const [list, setList] = useState(null);
  const [error, setError] = useState(null);
  const [ended, setEnded] = useState(false);
  const [lifting, setLifting] = useState(null);
  const [status, setStatus] = useState('');
  const [auditKey, setAuditKey] = useState(0);
  const load = () => get('/v1/suppressions' + qs({ ended: ended || undefined })).then((r) => setList(r.suppressions || []), setError);
  useEffect(() => {
    load();
  }, [ended]);
  const changed = (msg) => {
    setStatus(msg);
    setError(null);
    load();
    setAuditKey((k) => k + 1);
  };
  const now = Date.now();
  return (
    <section>
      <header class="page-head">
        <div>
          <h1>Suppressions</h1>
          <p class="muted">Keys whose alerts are kept from Kafka, webhooks and decisions until a time. Their alerts are still recorded, marked suppressed.</p>
        </div>
      </header>
      <ErrorBox error={error} />
      {status && <div class="ok-box" role="status">{status}</div>}
      {session.can.edit && <NewSuppression query={query} onCreated={(s) => changed(`Suppressed ${s.key} until ${fmtTime(s.until)}`)} onError={setError} />}
      <div class="card table-card">
        <div class="toolbar card-toolbar">
          <h2 class="card-title grow-title">{ended ? 'All suppressions' : 'Active suppressions'}</h2>
          <label class="radio"><input type="checkbox" checked={ended} onChange={(e) => setEnded(e.target.checked)} /> include ended</label>
        </div>
        <table class="table" data-testid="suppressions">
          <TableHead cols={['Key', 'Rule', 'Until', 'Reason', 'By', null]} />
          <tbody>
            {(list || []).map((s) => {
              const over = new Date(s.until).getTime() <= now;
              return (
                <tr key={s.id} data-suppression={s.id} data-key={s.key}>
                  <td class="mono"><a href={'#/alerts?key=' + encodeURIComponent(s.key)}>{s.key}</a></td>
                  <td class="mono">{s.rule_id ? <a href={'#/rules/' + encodeURIComponent(s.rule_id)}>{s.rule_id}</a> : <span class="muted">every rule</span>}</td>
                  <td title={fmtTime(s.until)}>{fmtTime(s.until)}{over && <span class="badge">ended</span>}</td>
                  <td>{s.reason}</td>
                  <td title={fmtTime(s.created)}>{s.author || '—'} <span class="sub">{fmtAgo(s.created)}</span></td>
                  <td class="actions">
                    {session.can.edit && !over && <button class="btn btn-sm" onClick={() => setLifting(s)} data-testid={'lift-' + s.key}>Lift</button>}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
        {list && list.length === 0 && <Empty>No {ended ? '' : 'active '}suppressions.</Empty>}
      </div>
      <div class="card table-card">
        <h2 class="card-title">Analyst actions</h2>
        <AnalystAudit key={auditKey} />
      </div>
      {lifting && (
        <LiftDialog
          s={lifting}
          onDone={(msg) => {
            setLifting(null);
            if (msg) changed(msg);
          }}
          onError={(e) => {
            setLifting(null);
            setError(e);
          }}
        />
      )}
    </section>
  );
}

// localInput is a time as a datetime-local input's value (local time, minutes).
function localInput(d) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

function NewSuppression({ query, onCreated, onError }) {
  const [key, setKey] = useState(query.get('key') || '');
  const [rule, setRule] = useState(query.get('rule') || '');
  const [duration, setDuration] = useState('24h');
  const [until, setUntil] = useState('');
  const [reason, setReason] = useState('');
  const [rules, setRules] = useState([]);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    get('/v1/rules').then((r) => setRules((r.rules || []).map((x) => x.id).sort()), () => {});
  }, []);
  useEffect(() => {
    if (query.get('key') !== null) setKey(query.get('key'));
    if (query.get('rule') !== null) setRule(query.get('rule'));
  }, [query.get('key'), query.get('rule')]);
  const submit = (e) => {
    e.preventDefault();
    whileBusy(setBusy, onError, async () => {
      const body = { key: key.trim(), rule_id: rule, reason };
      if (until) body.until = new Date(until).toISOString();
      else body.duration = duration;
      onCreated(await post('/v1/suppressions', body));
      setReason('');
    });
  };
  return (
    <form class="card" onSubmit={submit} aria-label="Suppress a key" data-testid="new-suppression">
      <h2 class="card-title">Suppress a key</h2>
      <div class="form-row">
        <label class="field"><span>Key</span><input id="sup-key" class="mono" value={key} onInput={(e) => setKey(e.target.value)} required placeholder="card, device…" /></label>
        <label class="field">
          <span>Rule</span>
          <select id="sup-rule" value={rule} onChange={(e) => setRule(e.target.value)}>
            <option value="">every rule</option>
            {rule && !rules.includes(rule) && <option value={rule}>{rule}</option>}
            {rules.map((r) => <option value={r}>{r}</option>)}
          </select>
        </label>
        <label class="field">
          <span>For</span>
          <select id="sup-duration" value={duration} onChange={(e) => setDuration(e.target.value)} disabled={!!until}>
            {['1h', '4h', '24h', '72h', '168h', '720h'].map((d) => <option value={d}>{d === '168h' ? '7 days' : d === '720h' ? '30 days' : d === '72h' ? '3 days' : d}</option>)}
          </select>
        </label>
        <label class="field"><span>or until</span><input id="sup-until" type="datetime-local" value={until} min={localInput(new Date())} onInput={(e) => setUntil(e.target.value)} /></label>
        <label class="field grow"><span>Reason (kept in the audit)</span><input id="sup-reason" value={reason} onInput={(e) => setReason(e.target.value)} required /></label>
        <button type="submit" class="btn btn-primary" disabled={busy} data-testid="suppress">Suppress</button>
      </div>
    </form>
  );
}

function LiftDialog({ s, onDone, onError }) {
  const [reason, setReason] = useState('');
  const lift = async () => {
    try {
      await api('DELETE', '/v1/suppressions/' + encodeURIComponent(s.id) + qs({ reason }));
      onDone(`Lifted the suppression of ${s.key}`);
    } catch (err) {
      onError(err);
    }
  };
  return (
    <Confirm title={'Lift the suppression of ' + s.key + '?'} confirmLabel="Lift" onConfirm={lift} onCancel={() => onDone(null)}>
      <p>Its alerts{s.rule_id ? ' of ' + s.rule_id : ''} reach the blocking sinks and decisions again.</p>
      <label class="field"><span>Why (kept in the audit)</span><input id="lift-reason" value={reason} onInput={(e) => setReason(e.target.value)} /></label>
    </Confirm>
  );
}

// AnalystAudit lists the analysts' actions, newest first: suppressions made and lifted,
// feedback given.
function AnalystAudit() {
  const what = (e) => {
    if (e.suppression) return `${e.suppression.key}${e.suppression.rule_id ? ' · ' + e.suppression.rule_id : ''} until ${fmtTime(e.suppression.until)}: ${e.suppression.reason}`;
    if (e.feedback) return `${e.feedback.label.replace('_', ' ')} · ${e.feedback.rule_id} ${e.feedback.key}${e.feedback.comment ? ': ' + e.feedback.comment : ''}`;
    return `${e.id}${e.reason ? ': ' + e.reason : ''}`;
  };
  return (
    <AuditLog
      path={'/v1/feedback:audit' + qs({ limit: 200 })}
      testid="analyst-audit"
      compact
      head={['When', 'Who', 'Action', 'What']}
      empty="No analyst actions yet."
      row={(e) => (
        <tr key={e.seq}>
          <td title={fmtTime(e.at)}>{fmtAgo(e.at)}</td>
          <td>{e.author || '—'}</td>
          <td>{e.action}</td>
          <td>{what(e)}</td>
        </tr>
      )}
    />
  );
}
