import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, get, post, qs } from './api.js';
import { Confirm, Empty, ErrorBox, fmtAgo, fmtNum, fmtTime, whileBusy, TableHead } from './util.jsx';
import { AuditLog } from './audit.jsx';

const KINDS = ['ALLOW', 'BLOCK', 'WATCH'];
const SHOWN = 200; // entries rendered at most (a list may hold a million)

export function KindBadge({ kind }) {
  const k = (kind || 'unspecified').toString().toLowerCase();
  return <span class={'badge kind-' + k}>{k}</span>;
}

// parseCSV reads the canonical CSV text of a list or table (GetList with
// include_entries: a header row, then one row per entry, cells quoted when needed).
function parseCSV(text) {
  if (!text.includes('"')) {
    const lines = text.split('\n').filter((l) => l !== '');
    return lines.map((l) => l.replace(/\r$/, '').split(','));
  }
  const rows = [];
  let row = [];
  let cell = '';
  let quoted = false;
  const endCell = () => {
    row.push(cell);
    cell = '';
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c !== '"') cell += c;
      else if (text[i + 1] === '"') {
        cell += '"';
        i++;
      } else quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === ',') endCell();
    else if (c === '\n') {
      endCell();
      rows.push(row);
      row = [];
    } else if (c !== '\r') cell += c;
  }
  if (cell || row.length) {
    endCell();
    rows.push(row);
  }
  return rows;
}

// ListsPage is the named lists and tables rules read with in_list(): kind, version, size,
// the rules reading each; an analyst creates one. With a name, the list's page.
export function ListsPage({ session, selected }) {
  return selected ? <ListPage name={selected} session={session} /> : <ListsIndex session={session} />;
}

function ListsIndex({ session }) {
  const [lists, setLists] = useState(null);
  const [error, setError] = useState(null);
  const [creating, setCreating] = useState(false);
  const load = () => get('/v1/lists').then((r) => setLists(r.lists || []), setError);
  useEffect(() => {
    load();
  }, []);
  return (
    <section>
      <header class="page-head">
        <div>
          <h1>Lists</h1>
          <p class="muted">Allow, block and watch lists and reference tables, read in rules with <code>in_list('name', value)</code>.</p>
        </div>
        {session.can.edit && !creating && (
          <button class="btn btn-primary" onClick={() => setCreating(true)} data-testid="new-list">New list</button>
        )}
      </header>
      <ErrorBox error={error} />
      {creating && <NewList onDone={(name) => (name ? (location.hash = '#/lists/' + encodeURIComponent(name)) : setCreating(false))} />}
      <div class="card table-card">
        <table class="table" data-testid="lists-table">
          <TableHead cols={['Name', 'Kind', ['Version', 'num'], ['Entries', 'num'], 'Read by', 'Changed']} />
          <tbody>
            {(lists || []).map((l) => (
              <tr key={l.name} class="clickable" data-list={l.name} onClick={() => (location.hash = '#/lists/' + encodeURIComponent(l.name))}>
                <td>
                  <a href={'#/lists/' + encodeURIComponent(l.name)} class="rule-link mono">{l.name}</a>
                  {l.description && <div class="sub">{l.description}</div>}
                </td>
                <td><KindBadge kind={l.kind} /></td>
                <td class="num">v{l.version}{l.loaded_version && l.loaded_version !== l.version ? <span class="sub"> (loaded v{l.loaded_version})</span> : null}</td>
                <td class="num" data-testid="list-entries">{fmtNum(l.entries)}</td>
                <td>{(l.used_by || []).map((r) => <a class="tag" href={'#/rules/' + encodeURIComponent(r)} onClick={(e) => e.stopPropagation()}>{r}</a>)}</td>
                <td title={fmtTime(l.time) + (l.author ? ' by ' + l.author : '')}>{fmtAgo(l.time)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {lists && lists.length === 0 && <Empty>No lists yet.</Empty>}
        {!lists && !error && <div class="empty">Loading…</div>}
      </div>
    </section>
  );
}

function NewList({ onDone }) {
  const [name, setName] = useState('');
  const [kind, setKind] = useState('WATCH');
  const [description, setDescription] = useState('');
  const [comment, setComment] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = (e) => {
    e.preventDefault();
    setError(null);
    whileBusy(setBusy, setError, async () => {
      const l = await post('/v1/lists', { name: name.trim(), kind, description, comment });
      onDone(l.name);
    });
  };
  return (
    <form class="card" onSubmit={submit} aria-label="New list" data-testid="new-list-form">
      <h2 class="card-title">New list</h2>
      <div class="form-row">
        <label class="field"><span>Name</span><input id="list-name" value={name} onInput={(e) => setName(e.target.value)} required pattern="[A-Za-z_][A-Za-z0-9_]*" placeholder="merchant_watch" /></label>
        <label class="field">
          <span>Kind</span>
          <select id="list-kind" value={kind} onChange={(e) => setKind(e.target.value)}>
            {KINDS.map((k) => <option value={k}>{k.toLowerCase()}</option>)}
          </select>
        </label>
        <label class="field grow"><span>Description</span><input value={description} onInput={(e) => setDescription(e.target.value)} /></label>
        <label class="field grow"><span>Why (kept in the audit)</span><input id="list-comment" value={comment} onInput={(e) => setComment(e.target.value)} /></label>
      </div>
      <ErrorBox error={error} />
      <div class="dialog-actions">
        <button type="button" class="btn" onClick={() => onDone(null)}>Cancel</button>
        <button type="submit" class="btn btn-primary" disabled={busy} data-testid="create-list">Create</button>
      </div>
    </form>
  );
}

// ListPage is one list: its entries (searched in the browser, SHOWN at most rendered),
// adding and removing entries, a CSV import that replaces them, deleting it, and its
// audit history. Tables change by import only.
function ListPage({ name, session }) {
  const [list, setList] = useState(null);
  const [error, setError] = useState(null);
  const [status, setStatus] = useState('');
  const [q, setQ] = useState('');
  const [removing, setRemoving] = useState(null);
  const [deleting, setDeleting] = useState(false);
  const [auditKey, setAuditKey] = useState(0);
  const path = '/v1/lists/' + encodeURIComponent(name);
  const seq = useRef(0); // only the latest read is shown
  const load = () => {
    const s = ++seq.current;
    get(path + qs({ include_entries: true })).then((l) => s === seq.current && setList(l), (e) => s === seq.current && setError(e));
  };
  useEffect(() => {
    setList(null);
    load();
  }, [name]);
  const changed = (l, what) => {
    setStatus(`${what}: version ${l.version}, ${fmtNum(l.entries)} entries`);
    setError(null);
    load();
    setAuditKey((k) => k + 1);
  };
  const table = list && list.kind === 'TABLE';
  const [head, ...rows] = useMemo(() => parseCSV((list && list.content) || ''), [list]);
  const shown = useMemo(() => {
    const w = q.trim().toLowerCase();
    return w ? rows.filter((r) => r.some((c) => c.toLowerCase().includes(w))) : rows;
  }, [list, q]);
  const edit = session.can.edit;
  const remove = async (v) => {
    setRemoving(null);
    try {
      changed(await post(path + ':remove', { values: [v], comment: 'removed in the UI' }), `Removed ${v}`);
    } catch (err) {
      setError(err);
    }
  };
  const del = async () => {
    setDeleting(false);
    try {
      await api('DELETE', path);
      location.hash = '#/lists';
    } catch (err) {
      setError(err);
    }
  };
  return (
    <section>
      <header class="page-head">
        <div>
          <div class="crumbs"><a href="#/lists">Lists</a> / {name}</div>
          <h1 class="mono">{name}</h1>
          {list && (
            <div class="rule-meta" data-testid="list-meta">
              <KindBadge kind={list.kind} /> <span>version {list.version}</span> · <span data-testid="list-size">{fmtNum(list.entries)} entries</span>
              {list.used_by && list.used_by.length > 0 && <span>· read by {list.used_by.join(', ')}</span>}
              <span class="muted">· changed {fmtAgo(list.time)}{list.author ? ' by ' + list.author : ''}</span>
            </div>
          )}
        </div>
        {edit && list && <button class="btn btn-danger" onClick={() => setDeleting(true)} data-testid="delete-list">Delete list</button>}
      </header>
      <ErrorBox error={error} />
      {status && <div class="ok-box" role="status">{status}</div>}
      {list && (
        <div class="grid2">
          <div>
            <div class="card table-card">
              <h2 class="card-title">{table ? 'Rows' : 'Entries'}</h2>
              <div class="toolbar list-search" role="search">
                <label class="field grow">
                  <span>Search</span>
                  <input type="search" value={q} onInput={(e) => setQ(e.target.value)} placeholder="part of a value" data-testid="entry-search" />
                </label>
                <span class="muted small" aria-live="polite">{fmtNum(shown.length)} of {fmtNum(rows.length)}{shown.length > SHOWN ? `, the first ${SHOWN} shown` : ''}</span>
              </div>
              <table class="table table-compact" data-testid="entries">
                {head && <TableHead cols={[...head, null]} />}
                <tbody>
                  {shown.slice(0, SHOWN).map((r) => (
                    <tr key={r[0]} data-entry={r[0]}>
                      {r.map((c) => <td class="mono">{c}</td>)}
                      <td class="actions">
                        {edit && !table && <button class="btn btn-sm" onClick={() => setRemoving(r[0])} aria-label={'Remove ' + r[0]}>Remove</button>}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              {shown.length === 0 && <Empty>{rows.length ? 'No entry matches.' : 'No entries.'}</Empty>}
            </div>
          </div>
          <div>
            {edit && !table && <AddEntries path={path} onChanged={changed} onError={setError} />}
            {edit && <ImportCSV path={path} table={table} onChanged={changed} onError={setError} />}
            <div class="card table-card">
              <h2 class="card-title">History</h2>
              <ListAudit name={name} key={auditKey} />
            </div>
          </div>
        </div>
      )}
      {removing !== null && (
        <Confirm title={'Remove ' + removing + '?'} confirmLabel="Remove" danger onConfirm={() => remove(removing)} onCancel={() => setRemoving(null)}>
          Rules reading <span class="mono">{name}</span> stop matching this value once the new version is loaded.
        </Confirm>
      )}
      {deleting && (
        <Confirm title={'Delete ' + name + '?'} confirmLabel="Delete" danger onConfirm={del} onCancel={() => setDeleting(false)}>
          A list that a running rule reads cannot be deleted: the server refuses it and names the rules.
        </Confirm>
      )}
    </section>
  );
}

function AddEntries({ path, onChanged, onError }) {
  const [values, setValues] = useState('');
  const [comment, setComment] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = (e) => {
    e.preventDefault();
    const vs = values.split(/[\n,]/).map((v) => v.trim()).filter(Boolean);
    if (!vs.length) return;
    whileBusy(setBusy, onError, async () => {
      onChanged(await post(path + ':add', { values: vs, comment }), `Added ${vs.length}`);
      setValues('');
      setComment('');
    });
  };
  return (
    <form class="card" onSubmit={submit} aria-label="Add entries">
      <h2 class="card-title">Add entries</h2>
      <label class="field"><span>Values (one a line)</span><textarea id="add-values" rows={3} value={values} onInput={(e) => setValues(e.target.value)} required /></label>
      <div class="form-row list-form-row">
        <label class="field grow"><span>Why (kept in the audit)</span><input id="add-comment" value={comment} onInput={(e) => setComment(e.target.value)} /></label>
        <button type="submit" class="btn btn-primary" disabled={busy} data-testid="add-entries">Add</button>
      </div>
    </form>
  );
}

// ImportCSV replaces the entries with a CSV file's (a list: the first cell of each row;
// a table: its header names the columns).
function ImportCSV({ path, table, onChanged, onError }) {
  const [content, setContent] = useState('');
  const [file, setFile] = useState('');
  const [header, setHeader] = useState(table);
  const [comment, setComment] = useState('');
  const [busy, setBusy] = useState(false);
  const pick = async (e) => {
    const f = e.target.files && e.target.files[0];
    if (!f) return;
    setFile(f.name);
    setContent(await f.text());
  };
  const submit = (e) => {
    e.preventDefault();
    whileBusy(setBusy, onError, async () => {
      const n = content.split('\n').filter((l) => l.trim()).length;
      onChanged(await post(path + ':import', { content, header: table || header, comment: comment || (file ? 'import of ' + file : '') }), `Imported ${n} rows`);
      setContent('');
      setFile('');
      setComment('');
    });
  };
  return (
    <form class="card" onSubmit={submit} aria-label="Import CSV">
      <h2 class="card-title">Import CSV</h2>
      <p class="muted small">Replaces every entry with the file's{table ? ' rows (the header names the key and columns)' : ' (the first cell of each row)'}.</p>
      <div class="form-row">
        <label class="field grow"><span>CSV file</span><input type="file" accept=".csv,text/csv,text/plain" onChange={pick} data-testid="import-file" /></label>
        {!table && (
          <label class="radio"><input type="checkbox" checked={header} onChange={(e) => setHeader(e.target.checked)} id="import-header" /> the first row is a header</label>
        )}
      </div>
      <label class="field"><span>or paste it</span><textarea id="import-content" rows={3} value={content} onInput={(e) => setContent(e.target.value)} required /></label>
      <div class="form-row list-form-row">
        <label class="field grow"><span>Why (kept in the audit)</span><input value={comment} onInput={(e) => setComment(e.target.value)} /></label>
        <button type="submit" class="btn btn-primary" disabled={busy || !content} data-testid="import-list">Import</button>
      </div>
    </form>
  );
}

function ListAudit({ name }) {
  return (
    <AuditLog
      path={'/v1/lists:audit' + qs({ name, limit: 200 })}
      testid="list-audit"
      compact
      head={['When', 'Who', 'Action', 'Version', 'What']}
      empty="No changes recorded."
      row={(e) => (
        <tr>
          <td title={fmtTime(e.time)}>{fmtAgo(e.time)}</td>
          <td>{e.author || '—'}</td>
          <td>{e.action}</td>
          <td>v{e.version}</td>
          <td>{e.summary}{e.comment && <div class="sub">{e.comment}</div>}</td>
        </tr>
      )}
    />
  );
}
