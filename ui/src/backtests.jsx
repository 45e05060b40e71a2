import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { get, post, ruleErrorsOf } from './api.js';
import { AlertExplain } from './explain.jsx';
import { Chart, Empty, ErrorBox, SevBadge, fmtAgo, fmtNum, fmtPct, fmtTime, TableHead } from './util.jsx';

const FINISHED = new Set(['DONE', 'FAILED', 'CANCELLED']);

// fmtDuration formats a protobuf JSON duration ("1.5s").
function fmtDuration(d) {
  const s = parseFloat(d);
  if (!isFinite(s)) return d;
  if (s < 1) return (s * 1000).toFixed(s < 0.01 ? 2 : 0) + ' ms';
  return s.toFixed(s < 10 ? 2 : 0) + ' s';
}

// BacktestRunner runs rules (drafts by source or stored rules by id) over a file or the
// retained stream and shows the job's progress, then its results.
export function BacktestRunner({ rules, disabled, onErrors }) {
  const [src, setSrc] = useState('file');
  const [file, setFile] = useState(() => localStorage.getItem('cepd.bt.file') || '');
  const [label, setLabel] = useState(() => localStorage.getItem('cepd.bt.label') || 'label');
  const [job, setJob] = useState(null);
  const [error, setError] = useState(null);
  const [files, setFiles] = useState([]);
  const timer = useRef();
  useEffect(() => {
    get('/v1/backtests:files').then((r) => setFiles(r.files || []), () => {});
    return () => clearTimeout(timer.current);
  }, []);

  const poll = (id) => {
    get('/v1/backtests/' + encodeURIComponent(id)).then(
      (b) => {
        setJob(b);
        if (!FINISHED.has(b.state)) timer.current = setTimeout(() => poll(id), 250);
      },
      setError,
    );
  };
  const run = async (e) => {
    e.preventDefault();
    setError(null);
    setJob(null);
    localStorage.setItem('cepd.bt.file', file);
    localStorage.setItem('cepd.bt.label', label);
    try {
      const b = await post('/v1/backtests', { rules, events_file: src === 'file' ? file : '', label_field: label, max_alerts: 2000 });
      setJob(b);
      poll(b.id);
    } catch (err) {
      const errs = ruleErrorsOf(err);
      if (errs.length && onErrors) onErrors(errs);
      setError(err);
    }
  };
  const cancel = () => post('/v1/backtests/' + encodeURIComponent(job.id) + ':cancel').then(setJob, setError);
  const running = job && !FINISHED.has(job.state);
  return (
    <div>
      <form class="card form-row" onSubmit={run} aria-label="Backtest">
        <fieldset class="field">
          <legend>Events</legend>
          <label class="radio"><input type="radio" name="bt-src" checked={src === 'file'} onChange={() => setSrc('file')} /> A file</label>
          <label class="radio"><input type="radio" name="bt-src" checked={src === 'retained'} onChange={() => setSrc('retained')} /> The retained live stream</label>
        </fieldset>
        {src === 'file' && (
          <label class="field grow">
            <span>File (JSONL, in the backtest directory)</span>
            <input id="bt-file" list="bt-files" value={file} onInput={(e) => setFile(e.target.value)} placeholder={files[0] ? files[0].name : 'events.jsonl'} required autocomplete="off" />
            <datalist id="bt-files">
              {files.map((f) => <option value={f.name}>{(f.bytes / 1024).toFixed(1)} KiB</option>)}
            </datalist>
          </label>
        )}
        <label class="field">
          <span>Label field</span>
          <input id="bt-label" value={label} onInput={(e) => setLabel(e.target.value)} placeholder="label" />
        </label>
        <div class="field field-btn">
          <button class="btn btn-primary" type="submit" disabled={disabled || running} data-testid="run-backtest">Run backtest</button>
        </div>
      </form>
      <ErrorBox error={error} />
      {job && <BacktestView job={job} onCancel={running ? cancel : null} />}
    </div>
  );
}

export function BacktestView({ job, onCancel }) {
  const [open, setOpen] = useState(null);
  const o = job.overall || {};
  const hours = o.per_hour || [];
  const chart = useMemo(() => [hours.map((h) => new Date(h.hour).getTime() / 1000), hours.map((h) => Number(h.alerts))], [job.id, job.state, hours.length]);
  const dl = Object.entries(job.dead_letters || {});
  return (
    <div class="bt" data-testid="backtest-result" data-state={job.state}>
      <div class="bt-status">
        <span class={'badge state-' + job.state.toLowerCase()}>{job.state.toLowerCase()}</span>
        <span class="muted">{job.source === 'RETAINED' ? 'retained stream' : job.events_file} · {fmtNum(job.events_processed)} of {fmtNum(job.events_total || job.events_read)} events{job.duration ? ' · ' + fmtDuration(job.duration) : ''}{job.events_per_second ? ` · ${fmtNum(job.events_per_second)} events/s` : ''}</span>
        {onCancel && <button class="btn btn-sm" onClick={onCancel}>Cancel</button>}
      </div>
      <progress class="progress" max="1" value={job.progress || 0} aria-label="Backtest progress" />
      {job.error && <div class="error-box" role="alert">{job.error}</div>}
      <div class="metrics">
        <Metric label="Alerts" value={fmtNum(job.alerts_total)} id="alerts" />
        <Metric label="Precision" value={job.scored ? fmtPct(o.precision) : '—'} id="precision" hint={job.scored ? `${fmtNum(o.labelled_alerts)} of ${fmtNum(o.alerts)} alerts hold a labelled event` : 'no label field'} />
        <Metric label="Recall" value={job.scored ? fmtPct(o.recall) : '—'} id="recall" hint={job.scored ? `${fmtNum(o.caught_keys)} of ${fmtNum(o.labelled_keys)} labelled keys caught` : ''} />
        <Metric label="Labelled events" value={fmtNum(job.labelled_events)} />
        <Metric label="Eval errors" value={fmtNum(o.eval_errors)} />
        <Metric label="Dead letters" value={fmtNum(dl.reduce((a, [, n]) => a + Number(n), 0))} hint={dl.map(([k, n]) => `${k}: ${n}`).join(', ')} />
      </div>
      {(job.results || []).length > 1 && (
        <table class="table">
          <TableHead cols={['Rule', ['Alerts', 'num'], ['Precision', 'num'], ['Recall', 'num'], ['Eval errors', 'num']]} />
          <tbody>
            {job.results.map((r) => (
              <tr><td class="mono">{r.rule_id}</td><td class="num">{fmtNum(r.alerts)}</td><td class="num">{job.scored ? fmtPct(r.precision) : '—'}</td><td class="num">{job.scored ? fmtPct(r.recall) : '—'}</td><td class="num">{fmtNum(r.eval_errors)}</td></tr>
            ))}
          </tbody>
        </table>
      )}
      {FINISHED.has(job.state) && hours.length > 0 && (
        <div class="card"><Chart title="Alerts per hour (by last event time)" data={chart} series={['alerts']} bars height={180} /></div>
      )}
      {FINISHED.has(job.state) && (
        <div class="card table-card">
          <h3 class="card-title">Alerts{job.alerts_total > (job.alerts || []).length ? ` (first ${(job.alerts || []).length} of ${job.alerts_total})` : ''}</h3>
          {(job.alerts || []).length === 0 ? (
            <Empty>No alerts.</Empty>
          ) : (
            <table class="table" data-testid="bt-alerts">
              <TableHead cols={['Last event', 'Rule', 'Key', 'Severity', 'Kind', ['Events', 'num'], 'Labelled']} />
              <tbody>
                {job.alerts.slice(0, 500).map((a) => {
                  const evs = (a.steps || []).flatMap((s) => s.events || []);
                  const lab = job.label_field && evs.some((e) => e.fields && e.fields[job.label_field]);
                  const isOpen = open === a.id;
                  return (
                    <>
                      <tr class="clickable" tabIndex={0} aria-expanded={isOpen} onClick={() => setOpen(isOpen ? null : a.id)} onKeyDown={(e) => e.key === 'Enter' && setOpen(isOpen ? null : a.id)}>
                        <td class="mono nowrap">{fmtTime(a.last_event_time)}</td>
                        <td class="mono">{a.rule_id}</td>
                        <td class="mono">{a.key}</td>
                        <td><SevBadge sev={a.severity} /></td>
                        <td>{a.kind}</td>
                        <td class="num">{evs.length}</td>
                        <td>{job.scored ? (lab ? <span class="badge badge-ok">yes</span> : <span class="badge">no</span>) : '—'}</td>
                      </tr>
                      {isOpen && (
                        <tr class="expanded"><td colSpan={7}><AlertExplain alert={a} labelField={job.label_field} /></td></tr>
                      )}
                    </>
                  );
                })}
              </tbody>
            </table>
          )}
        </div>
      )}
    </div>
  );
}

function Metric({ label, value, hint, id }) {
  return (
    <div class="metric" data-testid={id ? 'metric-' + id : undefined}>
      <div class="metric-label">{label}</div>
      <div class="metric-value">{value}</div>
      {hint && <div class="metric-hint">{hint}</div>}
    </div>
  );
}

// BacktestsPage runs stored rules and lists the backtests the server keeps.
export function BacktestsPage({ session, selected }) {
  const [rules, setRules] = useState([]);
  const [pick, setPick] = useState([]);
  const [list, setList] = useState([]);
  const [view, setView] = useState(null);
  const [error, setError] = useState(null);
  const refresh = () => get('/v1/backtests').then((r) => setList(r.backtests || []), setError);
  useEffect(() => {
    get('/v1/rules').then((r) => setRules(r.rules || []), setError);
    refresh();
    const t = setInterval(refresh, 3000);
    return () => clearInterval(t);
  }, []);
  useEffect(() => {
    if (selected) get('/v1/backtests/' + encodeURIComponent(selected)).then(setView, setError);
    else setView(null);
  }, [selected]);
  if (!session.can.backtest) {
    return (
      <section>
        <header class="page-head"><h1>Backtests</h1></header>
        <Empty>Your role ({session.role}) may not run backtests.</Empty>
      </section>
    );
  }
  return (
    <section>
      <header class="page-head">
        <div>
          <h1>Backtests</h1>
          <p class="muted">Replay recorded events through the production matcher. Drafts are backtested from the rule editor.</p>
        </div>
      </header>
      <ErrorBox error={error} />
      <div class="card">
        <label class="field">
          <span>Stored rules to backtest (Ctrl or Shift to pick several)</span>
          <select multiple size={Math.min(8, Math.max(3, rules.length))} value={pick} onChange={(e) => setPick([...e.target.selectedOptions].map((o) => o.value))}>
            {rules.map((r) => <option value={r.id}>{r.id}{r.name ? ' — ' + r.name : ''}</option>)}
          </select>
        </label>
      </div>
      <BacktestRunner rules={pick.map((id) => ({ rule_id: id }))} disabled={pick.length === 0} />
      {view && (
        <div class="card">
          <h2 class="card-title">Backtest {view.id}</h2>
          <BacktestView job={view} />
        </div>
      )}
      <h2>Recent backtests</h2>
      <div class="card table-card">
        <table class="table">
          <TableHead cols={['Id', 'State', 'Rules', 'Events', ['Alerts', 'num'], ['Precision', 'num'], ['Recall', 'num'], 'Created']} />
          <tbody>
            {list.map((b) => (
              <tr class="clickable" onClick={() => (location.hash = '#/backtests/' + b.id)}>
                <td class="mono"><a href={'#/backtests/' + b.id}>{b.id}</a></td>
                <td><span class={'badge state-' + b.state.toLowerCase()}>{b.state.toLowerCase()}</span></td>
                <td class="mono">{(b.rule_ids || []).join(', ')}</td>
                <td>{b.source === 'RETAINED' ? 'retained stream' : b.events_file}</td>
                <td class="num">{fmtNum(b.alerts_total)}</td>
                <td class="num">{b.scored ? fmtPct(b.overall?.precision) : '—'}</td>
                <td class="num">{b.scored ? fmtPct(b.overall?.recall) : '—'}</td>
                <td>{fmtAgo(b.create_time)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {list.length === 0 && <Empty>No backtests yet.</Empty>}
      </div>
    </section>
  );
}
