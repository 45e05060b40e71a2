import { useEffect, useRef, useState } from 'preact/hooks';
import { get, post } from './api.js';
import { ErrorBox, fmtAgo, fmtPct, fmtTime, whileBusy } from './util.jsx';

const LABELS = { fraud: 'Confirmed fraud', false_positive: 'False positive' };

// SuppressedBadge marks an alert kept from the blocking sinks (an analyst's suppression)
// or held back by its rule's cooldown.
export function SuppressedBadge({ s }) {
  if (!s) return null;
  return <span class="badge suppressed" title={`suppressed by ${s.by}${s.reason ? ': ' + s.reason : ''}`}>suppressed</span>;
}

// SuppressedNote says, in an alert's detail, who suppressed it, why and until when.
export function SuppressedNote({ s }) {
  if (!s) return null;
  return (
    <div class="note-box" data-testid="alert-suppressed">
      <strong>Suppressed</strong> by {s.by === 'analyst' ? (s.author || 'an analyst') : 'the rule\'s cooldown'} until {fmtTime(s.until)}
      {s.reason && <>: {s.reason}</>}. Recorded, not sent to Kafka, webhooks or decisions.
      {s.by === 'analyst' && <> <a href="#/suppressions">Suppressions</a></>}
    </div>
  );
}

// AlertFeedback is an alert's verdict (the latest counts) and, for an analyst, the
// controls to give one: confirmed fraud or false positive, with a comment. The rule's
// precision follows from these (the rules list shows it).
export function AlertFeedback({ alert, session }) {
  const [fb, setFb] = useState(null);
  const [comment, setComment] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [precision, setPrecision] = useState(null);
  const seq = useRef(0); // a verdict read before the latest mark answers is stale
  const path = '/v1/alerts/' + encodeURIComponent(alert.id) + '/feedback';
  const loadPrecision = () =>
    get('/v1/feedback:precision?rule_id=' + encodeURIComponent(alert.rule_id)).then((r) => setPrecision((r.rules || [])[0] || null), () => {});
  useEffect(() => {
    setFb(null);
    setError(null);
    const s = ++seq.current;
    get(path).then(
      (f) => s === seq.current && setFb(f),
      (e) => s === seq.current && e.status !== 404 && setError(e),
    );
    loadPrecision();
  }, [alert.id]);
  const mark = (label) => {
    setError(null);
    seq.current++;
    whileBusy(setBusy, setError, async () => {
      setFb(await post(path, { label, comment }));
      setComment('');
      loadPrecision();
    });
  };
  return (
    <div class="feedback" data-testid="feedback">
      <h3>Feedback</h3>
      <p data-testid="verdict" data-label={fb ? fb.label : ''}>
        {fb ? (
          <>
            <span class={'badge verdict-' + fb.label}>{LABELS[fb.label] || fb.label}</span> by {fb.author || 'someone'} {fmtAgo(fb.at)}
            {fb.comment && <span class="muted">: {fb.comment}</span>}
          </>
        ) : (
          <span class="muted">No verdict yet.</span>
        )}
      </p>
      <ErrorBox error={error} />
      {session.can.edit && (
        <div class="form-row">
          <label class="field grow"><span>Comment</span><input id="fb-comment" value={comment} onInput={(e) => setComment(e.target.value)} placeholder="chargeback 1234, customer confirmed…" /></label>
          <button class="btn btn-danger" disabled={busy} onClick={() => mark('fraud')} data-testid="mark-fraud">Confirmed fraud</button>
          <button class="btn" disabled={busy} onClick={() => mark('false_positive')} data-testid="mark-fp">False positive</button>
        </div>
      )}
      {precision && (
        <p class="muted small" data-testid="rule-precision">
          {alert.rule_id}: precision {fmtPct(precision.precision)} ({Number(precision.fraud)} fraud, {Number(precision.false_positive)} false positive)
        </p>
      )}
      {session.can.edit && (
        <p class="small">
          <a href={`#/suppressions?key=${encodeURIComponent(alert.key)}&rule=${encodeURIComponent(alert.rule_id)}`} data-testid="suppress-key">Suppress key {alert.key}…</a>
        </p>
      )}
    </div>
  );
}
