// The rule editor: CodeMirror 6 with YAML highlighting, the API's validation as lint
// diagnostics at their line and column, and completion of event fields (e.), step names
// (match.), CEL helpers and rule keys.

import { useEffect, useRef } from 'preact/hooks';
import { EditorView, basicSetup } from 'codemirror';
import { EditorState, Compartment } from '@codemirror/state';
import { keymap, Decoration, MatchDecorator, ViewPlugin } from '@codemirror/view';
import { indentWithTab } from '@codemirror/commands';
import { yaml } from '@codemirror/lang-yaml';
import { linter, lintGutter, forceLinting } from '@codemirror/lint';
import { autocompletion } from '@codemirror/autocomplete';

const RULE_KEYS = [
  ['id', 'unique rule id'], ['name', 'display name'], ['description', 'what the rule catches'],
  ['severity', 'low | medium | high | critical'], ['owner', 'team owning the rule'], ['tags', '[a, b]'],
  ['key', 'schema field to match per'], ['within', 'window, e.g. 10m'],
  ['skip', 'no_skip | skip_to_next | past_last_event | to_first STEP | to_last STEP'], ['pattern', 'list of steps'],
  ['emit', 'name: CEL expression'], ['timeouts', 'alert on expired partial matches'],
  ['name', 'step name'], ['where', 'CEL condition on e'], ['times', 'n, n+, n..m'], ['optional', 'true'],
  ['greedy', 'true'], ['until', 'CEL stop condition'], ['contiguity', 'strict | relaxed | any'],
  ['not', 'next | followed_by'], ['gap', 'max time since previous event'], ['steps', 'inner steps of a group'],
  ['repeat_within', 'max time between repetitions'], ['consecutive', 'true'], ['allow_combinations', 'true'],
];

const CEL_FUNCS = [
  ['has', 'has(e.field): field present'], ['size', 'size(list)'], ['first', 'first(match.step)'], ['last', 'last(match.step)'],
  ['sum', 'sum(list)'], ['distinct', 'distinct(list)'], ['duration', "duration('5m')"], ['minutes_between', 'minutes_between(t1, t2)'],
  ['timestamp', "timestamp('…')"], ['int', 'int(x)'], ['double', 'double(x)'], ['string', 'string(x)'],
];

// celHighlight marks, inside the YAML strings, what CEL gives meaning to: event fields
// (e.amount), steps (match.probes), the helper functions, and the logical operators.
const celMarks = {
  field: Decoration.mark({ class: 'cm-cel-field' }),
  step: Decoration.mark({ class: 'cm-cel-step' }),
  fn: Decoration.mark({ class: 'cm-cel-fn' }),
  op: Decoration.mark({ class: 'cm-cel-op' }),
};
const celFns = CEL_FUNCS.map(([f]) => f).join('|');
const celMatcher = new MatchDecorator({
  regexp: new RegExp(`\\b(e\\.\\w+)|\\b(match\\.\\w+)|\\b(${celFns}|map|filter|exists|all)(?=\\()|(&&|\\|\\||==|!=|>=|<=)`, 'g'),
  decoration: (m) => (m[1] ? celMarks.field : m[2] ? celMarks.step : m[3] ? celMarks.fn : celMarks.op),
});
const celHighlight = ViewPlugin.fromClass(
  class {
    constructor(view) {
      this.decorations = celMatcher.createDeco(view);
    }
    update(u) {
      this.decorations = celMatcher.updateDeco(u, this.decorations);
    }
  },
  { decorations: (v) => v.decorations },
);

// stepNames reads the step names written in the source (for match.NAME completion).
export function stepNames(src) {
  const out = [];
  const re = /^\s*-\s*name:\s*([A-Za-z_][\w-]*)/gm;
  let m;
  while ((m = re.exec(src))) out.push(m[1]);
  return out;
}

function completer(getSchema) {
  return (ctx) => {
    const field = ctx.matchBefore(/\b(e|x|y|item)\.\w*$/);
    if (field) {
      const schema = getSchema();
      const dot = field.text.indexOf('.');
      return {
        from: field.from + dot + 1,
        options: (schema?.fields || []).map((f) => ({ label: f.name, type: 'property', detail: f.type + (f.optional ? '?' : '') })),
        validFor: /^\w*$/,
      };
    }
    const step = ctx.matchBefore(/\bmatch\.\w*$/);
    if (step) {
      return {
        from: step.from + 6,
        options: stepNames(ctx.state.doc.toString()).map((n) => ({ label: n, type: 'variable', detail: 'step' })),
        validFor: /^\w*$/,
      };
    }
    const line = ctx.state.doc.lineAt(ctx.pos);
    const before = line.text.slice(0, ctx.pos - line.from);
    const key = /^(\s*-?\s*)(\w*)$/.exec(before);
    if (key && (key[2] || ctx.explicit)) {
      return {
        from: ctx.pos - key[2].length,
        options: RULE_KEYS.map(([k, d]) => ({ label: k, apply: k + ': ', type: 'keyword', detail: d })),
        validFor: /^\w*$/,
      };
    }
    const word = ctx.matchBefore(/\w+$/);
    if (word && /(where|until|emit|:)/.test(before)) {
      return {
        from: word.from,
        options: [
          ...CEL_FUNCS.map(([f, d]) => ({ label: f, apply: f + '(', type: 'function', detail: d })),
          { label: 'e', type: 'variable', detail: 'the event' },
          { label: 'match', type: 'variable', detail: 'events matched so far, by step' },
        ],
        validFor: /^\w*$/,
      };
    }
    return null;
  };
}

// Editor is a controlled CodeMirror view. validate(source) resolves to [{line, column,
// message}]; onProblems receives them (the problems list beside the editor).
export function Editor({ value, onChange, readOnly, schema, validate, onProblems, label }) {
  const host = useRef();
  const view = useRef();
  const schemaRef = useRef(schema);
  const cbs = useRef({});
  cbs.current = { onChange, validate, onProblems };
  schemaRef.current = schema;
  const ro = useRef(new Compartment());

  useEffect(() => {
    const lint = linter(
      async (v) => {
        const fn = cbs.current.validate;
        if (!fn) return [];
        const doc = v.state.doc;
        let errs;
        try {
          errs = await fn(doc.toString());
        } catch (e) {
          errs = [{ line: 1, column: 1, message: e.message }];
        }
        if (cbs.current.onProblems) cbs.current.onProblems(errs);
        return errs.map((e) => {
          const ln = doc.line(Math.min(Math.max(e.line || 1, 1), doc.lines));
          const from = Math.min(ln.from + Math.max((e.column || 1) - 1, 0), ln.to);
          const word = /^[\w.]+/.exec(doc.sliceString(from, ln.to));
          const to = word ? from + word[0].length : Math.min(from + 1, ln.to);
          return { from, to: Math.max(to, from), severity: 'error', message: `${e.line}:${e.column}: ${e.message}` };
        });
      },
      { delay: 300 },
    );
    view.current = new EditorView({
      parent: host.current,
      state: EditorState.create({
        doc: value,
        extensions: [
          basicSetup,
          keymap.of([indentWithTab]),
          yaml(),
          celHighlight,
          lintGutter(),
          lint,
          autocompletion({ override: [completer(() => schemaRef.current)], activateOnTyping: true }),
          ro.current.of([EditorState.readOnly.of(!!readOnly), EditorView.editable.of(!readOnly)]),
          EditorView.contentAttributes.of({ 'aria-label': label || 'Rule source (YAML and CEL)' }),
          EditorView.updateListener.of((u) => {
            if (u.docChanged && cbs.current.onChange) cbs.current.onChange(u.state.doc.toString());
          }),
          EditorView.theme({ '&': { height: '100%' }, '.cm-scroller': { fontFamily: 'var(--mono)', fontSize: '13px' } }),
        ],
      }),
    });
    if (cbs.current.validate) forceLinting(view.current);
    return () => view.current.destroy();
  }, []);

  useEffect(() => {
    const v = view.current;
    if (v && value !== v.state.doc.toString()) {
      v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: value } });
    }
  }, [value]);
  useEffect(() => {
    view.current?.dispatch({ effects: ro.current.reconfigure([EditorState.readOnly.of(!!readOnly), EditorView.editable.of(!readOnly)]) });
  }, [readOnly]);

  return <div class="editor" ref={host} data-testid="editor" />;
}
