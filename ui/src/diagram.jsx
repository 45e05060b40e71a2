// The compiled pattern as a diagram, from POST /v1/rules:explain (the data `cepd
// explain` prints): steps left to right joined by their contiguity, loops and optional
// steps marked, negations in red, groups boxed, the window and skip strategy beneath.

import { useEffect, useState } from 'preact/hooks';
import { post } from './api.js';
import { ErrorBox, fmtMs } from './util.jsx';

const CONTIG = {
  strict: ['next', 'the very next event of the key'],
  relaxed: ['followed by', 'later events that do not match are skipped'],
  any: ['followed by any', 'every later match (non-deterministic)'],
};

function quant(s) {
  if (s.min === 1 && s.max === 1) return '';
  if (s.max < 0) return `${s.min}+ times`;
  if (s.min === s.max) return `${s.min} times`;
  return `${s.min}–${s.max} times`;
}

function Arrow({ step }) {
  const [word, title] = CONTIG[step.contiguity] || CONTIG.relaxed;
  return (
    <div class={'arrow arrow-' + step.contiguity + (step.negation ? ' arrow-neg' : '')} title={title}>
      <span class="arrow-label">{step.negation === 'not_next' ? 'not next' : step.negation === 'not_followed_by' ? 'not followed by' : word}</span>
      <span class="arrow-line" />
      {step.gap_ms ? <span class="arrow-gap">gap ≤ {fmtMs(step.gap_ms)}</span> : null}
    </div>
  );
}

function StepBox({ step }) {
  const q = quant(step);
  const loop = step.max < 0;
  const cls = ['step', step.negation ? 'step-neg' : '', step.optional ? 'step-opt' : '', step.group ? 'step-group' : ''].join(' ');
  return (
    <div class={cls} data-step={step.name}>
      <div class="step-head">
        <span class="step-name">{step.negation ? '⊘ ' : ''}{step.name}</span>
        {q && <span class="step-q" title={loop ? 'looping step' : 'repeated step'}>{loop ? '↻ ' : ''}{q}</span>}
      </div>
      <div class="step-flags">
        {step.optional && <span class="flag">optional</span>}
        {step.greedy && <span class="flag">greedy</span>}
        {step.inner && step.inner !== 'relaxed' && step.max !== 1 && <span class="flag">{step.inner === 'strict' ? 'consecutive' : 'allow combinations'}</span>}
        {step.repeat_within_ms ? <span class="flag">each ≤ {fmtMs(step.repeat_within_ms)}</span> : null}
        <span class="flag flag-line">line {step.line}</span>
      </div>
      {step.group ? (
        <Flow steps={step.group} />
      ) : (
        <>
          {step.where && <code class="cond" title={step.where}>{step.where.trim()}</code>}
          {step.until && <code class="cond cond-until" title={step.until}>until {step.until.trim()}</code>}
        </>
      )}
    </div>
  );
}

function Flow({ steps }) {
  return (
    <div class="flow">
      {steps.map((s, i) => (
        <>
          {i > 0 && <Arrow step={s} />}
          <StepBox step={s} />
        </>
      ))}
    </div>
  );
}

export function Diagram({ source }) {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const [showNFA, setShowNFA] = useState(false);
  useEffect(() => {
    setError(null);
    post('/v1/rules:explain', { source }).then(setData, (e) => {
      setData(null);
      const errs = e.body && e.body.errors;
      setError(errs && errs.length ? new Error(errs.map((x) => `${x.line}:${x.column}: ${x.message}`).join('\n')) : e);
    });
  }, [source]);
  if (error) return <ErrorBox error={error} />;
  if (!data) return <div class="muted">Compiling…</div>;
  return (
    <div class="diagram" data-testid="diagram">
      <div class="diagram-meta">
        <span><b>{data.id}</b> · content version <code>{data.version}</code></span>
        <span>key <code>{data.key || '(schema key)'}</code></span>
        <span>{data.states} NFA states</span>
      </div>
      <div class="diagram-canvas">
        <div class="node-start" aria-label="start">start</div>
        <div class="arrow arrow-relaxed"><span class="arrow-line" /></div>
        <Flow steps={data.steps} />
        <div class="arrow arrow-relaxed"><span class="arrow-line" /></div>
        <div class="node-end" aria-label="alert">alert{data.emit.length ? ` · emits ${data.emit.join(', ')}` : ''}</div>
      </div>
      <div class="diagram-foot">
        <div class="pill">
          window: {data.within_ms ? `within ${fmtMs(data.within_ms)} (${data.within_type === 'previous_and_current' ? 'between consecutive events' : 'first to last event'})` : 'none'}
        </div>
        <div class="pill">after match: {data.skip.kind.replace(/_/g, ' ')}{data.skip.step ? ' ' + data.skip.step : ''}</div>
        {data.timeouts && <div class="pill">timeout alerts on</div>}
        <div class="legend">
          <span><i class="lg lg-strict" /> next (strict)</span>
          <span><i class="lg lg-relaxed" /> followed by (relaxed)</span>
          <span><i class="lg lg-any" /> followed by any</span>
          <span><i class="lg lg-neg" /> negation</span>
        </div>
      </div>
      <button class="btn btn-sm" aria-expanded={showNFA} onClick={() => setShowNFA(!showNFA)}>{showNFA ? 'Hide' : 'Show'} pattern and NFA text</button>
      {showNFA && <pre class="pre">{`pattern:\n${data.pattern_text}\n\nnfa:\n${data.nfa_text}`}</pre>}
    </div>
  );
}
