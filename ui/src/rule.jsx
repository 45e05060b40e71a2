import { useEffect, useRef, useState } from 'preact/hooks';
import { MergeView } from '@codemirror/merge';
import { EditorView, basicSetup } from 'codemirror';
import { EditorState } from '@codemirror/state';
import { yaml } from '@codemirror/lang-yaml';
import { get, post, put, qs, ruleErrorsOf } from './api.js';
import { Editor } from './editor.jsx';
import { Diagram } from './diagram.jsx';
import { BacktestRunner } from './backtests.jsx';
import { AuditTable } from './audit.jsx';
import { Confirm, ErrorBox, ModeBadge, SevBadge, Tag, fmtAgo, fmtNum, fmtTime, modeName, Empty, TableHead } from './util.jsx';
import TEMPLATE from './rule-template.yaml?raw'; // the new rule's source (ui/ui_test.go compiles it)

let schemaCache = null;
function useSchema() {
  const [s, set] = useState(schemaCache);
  useEffect(() => {
    if (!schemaCache) get('/v1/schema').then((x) => set((schemaCache = x)), () => {});
  }, []);
  return s;
}

// RulePage is one rule (or a new draft): its source in the editor, the diagram, a
// backtest of the draft, versions with diff and rollback, the audit, the shadow trial.
export function RulePage({ id, tab, query, session }) {
  const isNew = id === 'new';
  const can = session.can;
  const [rule, setRule] = useState(null);
  const [source, setSource] = useState(isNew ? sessionStorage.getItem('cepd.draft') || TEMPLATE : '');
  const [loaded, setLoaded] = useState(isNew);
  const [problems, setProblems] = useState([]);
  const [comment, setComment] = useState('');
  const [msg, setMsg] = useState('');
  const [error, setError] = useState(null);
  const [confirm, setConfirm] = useState(null);
  const [reload, setReload] = useState(0);
  const schema = useSchema();

  useEffect(() => {
    if (isNew) return;
    setError(null);
    get('/v1/rules/' + encodeURIComponent(id)).then(
      async (r) => {
        setRule(r);
        let src = r.source;
        // ?at=TIME (from an alert): the version that was current then.
        const at = query.get('at');
        if (at) {
          const vs = (await get(`/v1/rules/${encodeURIComponent(id)}/versions`)).versions || [];
          const then = vs.filter((v) => new Date(v.create_time) <= new Date(at)).pop();
          if (then) {
            src = then.source;
            setMsg(`Showing version ${then.version}, the one current at ${fmtTime(at)}.`);
          }
        }
        setSource(src);
        setLoaded(true);
      },
      (e) => {
        setError(e);
        setLoaded(true);
      },
    );
  }, [id, reload]);
  useEffect(() => {
    if (isNew) sessionStorage.setItem('cepd.draft', source);
  }, [source]);
  useEffect(() => {
    setMsg('');
    setError(null);
  }, [tab]);

  const validate = can.edit ? async (src) => (await post('/v1/rules:validate', { source: src })).errors || [] : null;
  const dirty = isNew || (rule && source !== rule.source);

  const save = async () => {
    setError(null);
    setMsg('');
    try {
      if (isNew) {
        const r = await post('/v1/rules', { source, comment });
        sessionStorage.removeItem('cepd.draft');
        setComment('');
        location.hash = '#/rules/' + encodeURIComponent(r.id);
        return;
      }
      const r = await put('/v1/rules/' + encodeURIComponent(id), { source, comment });
      setRule(r);
      setSource(r.source);
      setComment('');
      setMsg(`Saved as version ${r.version}.`);
    } catch (e) {
      const errs = ruleErrorsOf(e);
      if (errs.length) setProblems(errs);
      setError(e);
    }
  };
  const setMode = async (mode) => {
    setConfirm(null);
    try {
      const r = await post(`/v1/rules/${encodeURIComponent(id)}:setMode`, { mode, comment: comment || `mode set to ${mode.toLowerCase()} in the UI` });
      setRule(r);
      setSource(r.source);
      setMsg(`Mode is now ${modeName(r.mode)} (version ${r.version}).`);
    } catch (e) {
      setError(e);
    }
  };

  const tabs = [['source', 'Source'], ['diagram', 'Diagram']];
  if (can.backtest) tabs.push(['backtest', 'Backtest']);
  if (!isNew) tabs.push(['versions', 'Versions'], ['audit', 'Audit'], ['shadow', 'Shadow trial']);
  const base = '#/rules/' + encodeURIComponent(id);

  return (
    <section class="rule-page">
      <header class="page-head">
        <div>
          <div class="crumbs"><a href="#/rules">Rules</a> / <span class="mono">{isNew ? 'new' : id}</span></div>
          <h1>{isNew ? 'New rule' : rule ? rule.name || rule.id : id}</h1>
          {rule && (
            <div class="rule-meta">
              <ModeBadge mode={rule.mode} /> <SevBadge sev={rule.severity} />
              <span>v{rule.version}</span>
              {rule.owner && <span>owner {rule.owner}</span>}
              {(rule.tags || []).map((t) => <Tag>{t}</Tag>)}
              <span class="muted">changed {fmtAgo(rule.update_time)} by {rule.author || '—'}</span>
              {rule.running_version !== rule.version && rule.running_version > 0 && <span class="badge">running v{rule.running_version}</span>}
            </div>
          )}
        </div>
        {rule && can.manage && (
          <label class="field">
            <span>Mode</span>
            <select value={modeName(rule.mode)} onChange={(e) => { const m = e.target.value; e.target.value = modeName(rule.mode); setConfirm({ mode: m }); }} data-testid="mode-select">
              <option value="active">active</option>
              <option value="shadow">shadow</option>
              <option value="disabled">disabled</option>
            </select>
          </label>
        )}
      </header>
      <nav class="tabs" role="tablist" aria-label="Rule views">
        {tabs.map(([k, label]) => (
          <a role="tab" href={base + '/' + k} aria-selected={tab === k} class={tab === k ? 'active' : ''} data-testid={'tab-' + k}>{label}</a>
        ))}
      </nav>
      {msg && <div class="ok-box" role="status">{msg}</div>}
      <ErrorBox error={error} />
      {!loaded && <div class="muted">Loading…</div>}
      {loaded && tab === 'source' && (
        <div class="editor-layout">
          <div class="editor-main">
            <Editor value={source} onChange={setSource} readOnly={!can.edit} schema={schema} validate={validate} onProblems={setProblems} />
          </div>
          <aside class="editor-side" aria-label="Problems and actions">
            <h2 class="side-title">{can.edit ? 'Problems' : 'Rule'}</h2>
            {!can.edit ? (
              <p class="muted">Read only: your role ({session.role}) may not change rules.</p>
            ) : problems.length === 0 ? (
              <div class="ok-line" data-testid="compiles">✓ The rule compiles.</div>
            ) : (
              <ul class="problems" data-testid="problems">
                {problems.map((p) => (
                  <li data-line={p.line} data-column={p.column}>
                    <span class="mono loc">{p.line}:{p.column}</span> {p.message}
                  </li>
                ))}
              </ul>
            )}
            {schema && (
              <details class="schema-help">
                <summary>Event fields ({schema.fields.length})</summary>
                <ul class="fields">
                  {schema.fields.map((f) => <li><code>e.{f.name}</code> <span class="muted">{f.type}{f.optional ? '?' : ''}</span></li>)}
                </ul>
              </details>
            )}
            {can.edit && (
              <div class="save-box">
                <label class="field">
                  <span>Change comment (audit)</span>
                  <input id="comment" value={comment} onInput={(e) => setComment(e.target.value)} placeholder="why this change" />
                </label>
                <button class="btn btn-primary btn-block" disabled={!dirty || problems.length > 0} onClick={() => (isNew ? setConfirm({ create: true }) : save())} data-testid="save">
                  {isNew ? 'Create and activate…' : 'Save new version'}
                </button>
              </div>
            )}
          </aside>
        </div>
      )}
      {loaded && tab === 'diagram' && <div class="card"><Diagram source={source} /></div>}
      {loaded && tab === 'backtest' && (
        <div>
          <p class="muted">Backtests the source in the editor{dirty && !isNew ? ' (unsaved changes included)' : ''}.</p>
          <BacktestRunner rules={[{ source }]} onErrors={setProblems} />
        </div>
      )}
      {loaded && tab === 'versions' && rule && <Versions id={id} rule={rule} can={can} onChanged={() => { setMsg(''); setReload(reload + 1); }} setMsg={setMsg} />}
      {loaded && tab === 'audit' && <div class="card table-card"><AuditTable ruleId={id} /></div>}
      {loaded && tab === 'shadow' && rule && <Shadow id={id} rule={rule} source={source} can={can} onChanged={() => setReload(reload + 1)} />}
      {confirm && confirm.create && (
        <Confirm title="Create and activate this rule?" confirmLabel="Create and activate" onCancel={() => setConfirm(null)} onConfirm={() => { setConfirm(null); save(); }}>
          <p>The rule starts matching live events at once and its alerts reach every sink. Consider a backtest first.</p>
        </Confirm>
      )}
      {confirm && confirm.mode && (
        <Confirm title={`Set ${id} to ${confirm.mode.toLowerCase()}?`} danger={confirm.mode !== 'active'} confirmLabel={`Set ${confirm.mode.toLowerCase()}`} onCancel={() => setConfirm(null)} onConfirm={() => setMode(confirm.mode)}>
          <p>
            {confirm.mode === 'active' && 'Its alerts will reach every sink (webhooks, Kafka).'}
            {confirm.mode === 'shadow' && 'It keeps matching but its alerts are only recorded, never delivered.'}
            {confirm.mode === 'disabled' && 'It stops matching; its partial matches are dropped.'}
          </p>
        </Confirm>
      )}
    </section>
  );
}

function SideBySide({ left, right }) {
  const host = useRef();
  useEffect(() => {
    const ext = [basicSetup, yaml(), EditorState.readOnly.of(true), EditorView.editable.of(false)];
    const mv = new MergeView({ a: { doc: left, extensions: ext }, b: { doc: right, extensions: ext }, parent: host.current, collapseUnchanged: { margin: 3, minSize: 6 } });
    return () => mv.destroy();
  }, [left, right]);
  return <div class="merge" ref={host} data-testid="diff" />;
}

function Versions({ id, rule, can, onChanged, setMsg }) {
  const [vs, setVs] = useState([]);
  const [a, setA] = useState(0);
  const [b, setB] = useState(0);
  const [srcs, setSrcs] = useState(null);
  const [error, setError] = useState(null);
  const [confirm, setConfirm] = useState(null);
  useEffect(() => {
    get(`/v1/rules/${encodeURIComponent(id)}/versions`).then((r) => {
      const list = (r.versions || []).slice().sort((x, y) => y.version - x.version);
      setVs(list);
      setB(list[0]?.version || 0);
      setA(list[1]?.version || list[0]?.version || 0);
    }, setError);
  }, [id, rule.version]);
  useEffect(() => {
    const va = vs.find((v) => v.version === a), vb = vs.find((v) => v.version === b);
    if (va && vb) setSrcs([va.source, vb.source]);
  }, [a, b, vs]);
  const rollback = async (version) => {
    setConfirm(null);
    try {
      const r = await post(`/v1/rules/${encodeURIComponent(id)}:rollback`, { version, comment: `rolled back to v${version} in the UI` });
      onChanged();
      setMsg(`Rolled back: version ${r.version} has the source of version ${version}.`);
    } catch (e) {
      setError(e);
    }
  };
  return (
    <div>
      <ErrorBox error={error} />
      <div class="card table-card">
        <table class="table" data-testid="versions">
          <TableHead cols={['Version', 'Action', 'Mode', 'Author', 'Comment', 'When', null]} />
          <tbody>
            {vs.map((v) => (
              <tr data-version={v.version}>
                <td>v{v.version}{v.version === rule.version && <span class="badge badge-ok">current</span>}</td>
                <td>{v.action}</td>
                <td><ModeBadge mode={v.mode} /></td>
                <td>{v.author || '—'}</td>
                <td>{v.comment}</td>
                <td title={fmtTime(v.create_time)}>{fmtAgo(v.create_time)}</td>
                <td><div class="actions">
                  <button class="btn btn-sm" onClick={() => { setA(v.version); setB(rule.version); }} aria-label={`Compare version ${v.version} with the current one`}>Compare</button>
                  {can.edit && v.version !== rule.version && v.action !== 'delete' && (
                    <button class="btn btn-sm" onClick={() => setConfirm(v.version)} data-testid={'rollback-' + v.version}>Roll back to this</button>
                  )}
                </div></td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <div class="toolbar">
        <label class="field"><span>Left</span><select value={a} onChange={(e) => setA(Number(e.target.value))}>{vs.map((v) => <option value={v.version}>v{v.version}</option>)}</select></label>
        <label class="field"><span>Right</span><select value={b} onChange={(e) => setB(Number(e.target.value))}>{vs.map((v) => <option value={v.version}>v{v.version}</option>)}</select></label>
      </div>
      {srcs && <div class="card"><SideBySide left={srcs[0]} right={srcs[1]} /></div>}
      {confirm && (
        <Confirm title={`Roll ${id} back to version ${confirm}?`} confirmLabel="Roll back" danger onCancel={() => setConfirm(null)} onConfirm={() => rollback(confirm)}>
          <p>A new version is made with the source of version {confirm}; it is applied at once.</p>
        </Confirm>
      )}
    </div>
  );
}

function Shadow({ id, rule, source, can, onChanged }) {
  const [cmp, setCmp] = useState(null);
  const [error, setError] = useState(null);
  const [note, setNote] = useState('');
  const onTrial = rule.shadow_of > 0;
  useEffect(() => {
    if (!onTrial) return;
    const load = () => get(`/v1/rules/${encodeURIComponent(id)}:compareShadow`).then(setCmp, setError);
    load();
    const t = setInterval(load, 3000);
    return () => clearInterval(t);
  }, [id, onTrial]);
  const start = async () => {
    try {
      await post(`/v1/rules/${encodeURIComponent(id)}:shadow`, { source, comment: 'shadow trial started in the UI' });
      setNote('Trial started.');
      onChanged();
    } catch (e) {
      setError(e);
    }
  };
  const end = async () => {
    try {
      await post(`/v1/rules/${encodeURIComponent(id)}:rollback`, { version: rule.shadow_of, comment: 'shadow trial ended in the UI' });
      onChanged();
    } catch (e) {
      setError(e);
    }
  };
  const promote = async () => {
    try {
      await post(`/v1/rules/${encodeURIComponent(id)}:setMode`, { mode: 'active', comment: 'candidate promoted in the UI' });
      onChanged();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <div>
      <ErrorBox error={error} />
      {note && <div class="ok-box">{note}</div>}
      {!onTrial && (
        <div class="card">
          <p>Put the source in the editor on trial: it runs in shadow beside the active version, which keeps delivering. Its alerts are recorded and compared.</p>
          {can.edit && modeName(rule.mode) === 'active' ? (
            <button class="btn btn-primary" disabled={source === rule.source} onClick={start} data-testid="start-shadow">Start shadow trial with the edited source</button>
          ) : (
            <p class="muted">{can.edit ? 'Only an active rule can have a candidate on trial.' : 'Your role may not start trials.'}</p>
          )}
          {source === rule.source && can.edit && <p class="muted">Edit the source first (Source tab).</p>}
        </div>
      )}
      {onTrial && cmp && (
        <div class="card" data-testid="shadow-compare">
          <h2 class="card-title">v{cmp.shadow_version} (candidate) against v{cmp.active_version} (live) since {fmtTime(cmp.since)}</h2>
          <div class="metrics">
            <div class="metric"><div class="metric-label">Live version alerts</div><div class="metric-value">{fmtNum(cmp.active_alerts)}</div><div class="metric-hint">v{cmp.active_version} · <span class="mono">{cmp.active_content_version}</span></div></div>
            <div class="metric"><div class="metric-label">Candidate alerts</div><div class="metric-value">{fmtNum(cmp.shadow_alerts)}</div><div class="metric-hint">v{cmp.shadow_version} · <span class="mono">{cmp.shadow_content_version}</span>, never delivered</div></div>
          </div>
          <table class="table cmp">
            <TableHead cols={['Caught by', ['Both', 'num'], ['Live only', 'num'], ['Candidate only', 'num']]} />
            <tbody>
              <tr data-row="keys"><th scope="row">Keys</th><td class="num">{fmtNum(cmp.keys_both)}</td><td class="num">{fmtNum(cmp.keys_active_only)}</td><td class="num">{fmtNum(cmp.keys_shadow_only)}</td></tr>
              <tr data-row="matches"><th scope="row">Matches</th><td class="num">{fmtNum(cmp.matches_both)}</td><td class="num">{fmtNum(cmp.matches_active_only)}</td><td class="num">{fmtNum(cmp.matches_shadow_only)}</td></tr>
            </tbody>
          </table>
          {cmp.truncated && <p class="muted">More keys than tracked: set counts cover the first ones.</p>}
          <div class="actions" style="margin-top: 14px">
            {can.manage && <button class="btn btn-primary" onClick={promote}>Promote candidate</button>}
            {can.edit && <button class="btn btn-danger" onClick={end} data-testid="end-shadow">End trial (keep v{rule.shadow_of})</button>}
          </div>
        </div>
      )}
      {onTrial && !cmp && !error && <Empty>Loading the comparison…</Empty>}
    </div>
  );
}
