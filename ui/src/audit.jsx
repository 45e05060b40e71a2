import { useEffect, useState } from 'preact/hooks';
import { get, qs } from './api.js';
import { Empty, ErrorBox, fmtAgo, fmtTime } from './util.jsx';

// AuditTable lists rule changes, newest first: who, what, why, with the diff.
export function AuditTable({ ruleId }) {
  const [entries, setEntries] = useState(null);
  const [error, setError] = useState(null);
  const [open, setOpen] = useState(null);
  useEffect(() => {
    get('/v1/audit' + qs({ rule_id: ruleId, limit: 500 })).then((r) => setEntries(r.entries || []), setError);
  }, [ruleId]);
  if (error) return <ErrorBox error={error} />;
  if (!entries) return <div class="muted">Loading…</div>;
  if (!entries.length) return <Empty>No changes recorded.</Empty>;
  return (
    <table class="table" data-testid="audit">
      <thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">Action</th><th scope="col">Rule</th><th scope="col">Version</th><th scope="col">Why</th><th scope="col"><span class="sr-only">Diff</span></th></tr></thead>
      <tbody>
        {entries.map((e, i) => (
          <>
            <tr>
              <td title={fmtTime(e.time)}>{fmtAgo(e.time)}</td>
              <td>{e.author || '—'}</td>
              <td>{e.action}</td>
              <td class="mono"><a href={'#/rules/' + encodeURIComponent(e.rule_id)}>{e.rule_id}</a></td>
              <td>v{e.version}</td>
              <td>{e.comment}</td>
              <td>{e.diff && <button class="btn btn-sm" aria-expanded={open === i} onClick={() => setOpen(open === i ? null : i)}>{open === i ? 'Hide diff' : 'Diff'}</button>}</td>
            </tr>
            {open === i && <tr class="expanded"><td colSpan={7}><pre class="pre diff">{e.diff.split('\n').map((l) => <div class={l.startsWith('+') ? 'add' : l.startsWith('-') ? 'del' : ''}>{l || ' '}</div>)}</pre></td></tr>}
          </>
        ))}
      </tbody>
    </table>
  );
}

export function AuditPage() {
  return (
    <section>
      <header class="page-head"><div><h1>Audit log</h1><p class="muted">Every rule change: who made it, when and why.</p></div></header>
      <div class="card table-card"><AuditTable /></div>
    </section>
  );
}
