// "Why did this fire": an alert's matched events, step by step, and its emitted values.

import { fmtTime, TableHead } from './util.jsx';

function val(v) {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

const SKIP = new Set(['ts']);

export function AlertExplain({ alert, labelField }) {
  const steps = alert.steps || [];
  const emit = alert.emit || {};
  return (
    <div class="explain" data-testid="alert-explain">
      <h3>Matched events by step</h3>
      {steps.length === 0 && <p class="muted">This alert carries no events (a timeout with an empty match, or an abridged alert).</p>}
      {steps.map((s) => {
        const cols = [];
        const dup = new Set();
        for (const ev of s.events || [])
          for (const [k, v] of Object.entries(ev.fields || {})) {
            if (v === ev.id || (alert.key && v === alert.key)) dup.add(k);
            if (!cols.includes(k) && !SKIP.has(k)) cols.push(k);
          }
        const shown = cols.filter((c) => !dup.has(c));
        return (
          <div class="explain-step" key={s.step}>
            <div class="explain-step-head">
              <span class="step-chip">{s.step}</span>
              <span class="muted">{(s.events || []).length} event{(s.events || []).length === 1 ? '' : 's'}</span>
            </div>
            <div class="scroll-x">
              <table class="table table-compact">
                <TableHead cols={['Time', 'Event id', ...shown]} />
                <tbody>
                  {(s.events || []).map((ev) => {
                    const labelled = labelField && ev.fields && ev.fields[labelField];
                    return (
                      <tr key={ev.id} class={labelled ? 'labelled' : ''}>
                        <td class="mono nowrap">{fmtTime(ev.time)}</td>
                        <td class="mono">{ev.id}</td>
                        {shown.map((c) => <td class="mono">{val(ev.fields && ev.fields[c])}</td>)}
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          </div>
        );
      })}
      <h3>Emitted values</h3>
      {Object.keys(emit).length === 0 ? (
        <p class="muted">None.</p>
      ) : (
        <dl class="kv">
          {Object.entries(emit).map(([k, v]) => (
            <>
              <dt>{k}</dt>
              <dd class="mono">{val(v)}</dd>
            </>
          ))}
        </dl>
      )}
    </div>
  );
}
