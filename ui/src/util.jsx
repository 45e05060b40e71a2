// Small shared pieces: formatting, badges, table headers, the confirmation dialog, the
// chart wrapper.

import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

// whileBusy runs the async fn with busy set (a form's submit button disabled meanwhile),
// handing a failure to onError.
export async function whileBusy(setBusy, onError, fn) {
  setBusy(true);
  try {
    await fn();
  } catch (err) {
    onError(err);
  }
  setBusy(false);
}

export function fmtTime(ts) {
  if (!ts) return '—';
  const d = new Date(ts);
  if (isNaN(d)) return String(ts);
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z').replace(/Z$/, ' UTC');
}

export function fmtAgo(ts) {
  if (!ts) return '—';
  const s = Math.round((Date.now() - new Date(ts).getTime()) / 1000);
  if (s < 60) return s + 's ago';
  if (s < 3600) return Math.round(s / 60) + 'm ago';
  if (s < 86400) return Math.round(s / 3600) + 'h ago';
  return Math.round(s / 86400) + 'd ago';
}

export function fmtNum(n, digits = 0) {
  if (n === undefined || n === null || n === '') return '—';
  const v = Number(n);
  if (!isFinite(v)) return '—';
  return v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

// fmtCompact writes an axis value short: 1.2k, 3.4M.
export function fmtCompact(v) {
  if (v == null) return '';
  const a = Math.abs(v);
  if (a >= 1e9) return +(v / 1e9).toFixed(1) + 'G';
  if (a >= 1e6) return +(v / 1e6).toFixed(1) + 'M';
  if (a >= 1e4) return +(v / 1e3).toFixed(1) + 'k';
  return +v.toFixed(3) + '';
}

export function fmtPct(x) {
  if (x === undefined || x === null) return '—';
  return (Number(x) * 100).toFixed(1) + '%';
}

export function fmtMs(ms) {
  if (!ms) return '—';
  if (ms % 3600000 === 0) return ms / 3600000 + 'h';
  if (ms % 60000 === 0) return ms / 60000 + 'm';
  if (ms % 1000 === 0) return ms / 1000 + 's';
  return ms + 'ms';
}

export function modeName(m) {
  return (m || 'unspecified').toString().toLowerCase();
}

export function ModeBadge({ mode }) {
  const m = modeName(mode);
  return <span class={'badge mode-' + m}>{m}</span>;
}

export function SevBadge({ sev }) {
  const s = (sev || 'none').toLowerCase();
  return <span class={'badge sev-' + s}>{s}</span>;
}

export function Tag({ children }) {
  return <span class="tag">{children}</span>;
}

export function ErrorBox({ error }) {
  if (!error) return null;
  return (
    <div class="error-box" role="alert">
      {String(error.message || error)}
    </div>
  );
}

// TableHead is a table's header row, a column for each of cols: its label, or [label,
// class, title]; a null label is the column of row actions, named for screen readers.
export function TableHead({ cols }) {
  return (
    <thead>
      <tr>
        {cols.map((c) => {
          const [label, cls, title] = Array.isArray(c) ? c : [c];
          return <th scope="col" class={cls} title={title}>{label ?? <span class="sr-only">Actions</span>}</th>;
        })}
      </tr>
    </thead>
  );
}

export function Empty({ children }) {
  return <div class="empty">{children}</div>;
}

// Confirm is a modal dialog (the native <dialog>, so focus is trapped and Escape closes).
export function Confirm({ title, children, confirmLabel, danger, onConfirm, onCancel }) {
  const ref = useRef();
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
  }, []);
  return (
    <dialog ref={ref} class="dialog" aria-labelledby="dlg-title" onCancel={(e) => { e.preventDefault(); onCancel(); }}>
      <h2 id="dlg-title">{title}</h2>
      <div class="dialog-body">{children}</div>
      <div class="dialog-actions">
        <button type="button" class="btn" onClick={onCancel}>Cancel</button>
        <button type="button" class={'btn ' + (danger ? 'btn-danger' : 'btn-primary')} onClick={onConfirm} data-testid="confirm">
          {confirmLabel || 'Confirm'}
        </button>
      </div>
    </dialog>
  );
}

// Chart draws time series with uPlot. data is [xs, ...ys]; series names the ys.
export function Chart({ title, data, series, height = 200, bars, yLabel }) {
  const box = useRef();
  const plot = useRef();
  useEffect(() => {
    const el = box.current;
    const width = Math.max(el.clientWidth, 300);
    const colors = ['#2563eb', '#dc2626', '#d97706', '#059669', '#7c3aed'];
    const opts = {
      width,
      height,
      title,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (u, min, max) => [bars || min >= 0 ? 0 : min, max > 0 ? max * 1.1 : 1] } },
      axes: [{ stroke: '#64748b', grid: { stroke: '#eef2f7' } }, { stroke: '#64748b', grid: { stroke: '#eef2f7' }, label: yLabel, size: 60, values: (u, vals) => vals.map(fmtCompact) }],
      series: [
        {},
        ...series.map((name, i) => ({
          label: name,
          stroke: colors[i % colors.length],
          width: 2,
          fill: bars ? colors[i % colors.length] + 'cc' : series.length === 1 ? colors[i % colors.length] + '14' : undefined,
          paths: bars ? uPlot.paths.bars({ size: [0.8, 60] }) : undefined,
          points: { show: bars ? false : undefined },
        })),
      ],
    };
    plot.current = new uPlot(opts, data, el);
    const ro = new ResizeObserver(() => plot.current && plot.current.setSize({ width: Math.max(el.clientWidth, 300), height }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.current.destroy();
      plot.current = null;
    };
  }, [series.join(','), bars, height, title]);
  useEffect(() => {
    if (plot.current) plot.current.setData(data);
  }, [data]);
  return <div class="chart" ref={box} role="img" aria-label={title} />;
}
