import { useEffect, useState } from 'preact/hooks';
import { get, qs } from './api.js';
import { Empty, ErrorBox, fmtAgo, fmtTime, TableHead } from './util.jsx';

// AuditLog reads an audit log (GET path answers {entries}, newest first) and shows it as
// a table: the column headings head, then row(entry, i) for each entry; empty is what
// the table says when there is none. The rules', the lists' and the analysts' audits.
export function AuditLog({ path, testid, compact, head, empty, row }) {
  const [entries, setEntries] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    get(path).then((r) => setEntries(r.entries || []), setError);
  }, [path]);
  if (error) return <ErrorBox error={error} />;
  if (!entries) return <div class="empty">Loading…</div>;
  if (!entries.length) return <Empty>{empty}</Empty>;
  return (
    <table class={compact ? 'table table-compact' : 'table'} data-testid={testid}>
      <TableHead cols={head} />
      <tbody>{entries.map(row)}</tbody>
    </table>
  );
}

// AuditTable lists rule changes, newest first: who, what, why, with the diff.
export function AuditTable({ ruleId }) {
  const [open, setOpen] = useState(null);
  return (
    <AuditLog
      path={'/v1/audit' + qs({ rule_id: ruleId, limit: 500 })}
      testid="audit"
      head={['When', 'Who', 'Action', 'Rule', 'Version', 'Why', <span class="sr-only">Diff</span>]}
      empty="No changes recorded."
      row={(e, i) => (
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
      )}
    />
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
