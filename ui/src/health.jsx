import { useEffect, useMemo, useState } from 'preact/hooks';
import { get } from './api.js';
import { Chart, Empty, ErrorBox, fmtNum, TableHead } from './util.jsx';

function fmtBytes(b) {
  if (!b) return '—';
  const u = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (b >= 1024 && i < u.length - 1) (b /= 1024), i++;
  return b.toFixed(i ? 1 : 0) + ' ' + u[i];
}

function fmtAge(ms) {
  if (ms === undefined || ms < 0) return 'never';
  if (ms < 1000) return ms + ' ms';
  if (ms < 120000) return (ms / 1000).toFixed(1) + ' s';
  if (ms < 7200000) return Math.round(ms / 60000) + ' min';
  if (ms < 172800000) return Math.round(ms / 3600000) + ' h';
  return Math.round(ms / 86400000).toLocaleString('en-US') + ' days';
}

// HealthPage shows the engine's counters and, sampled every two seconds by this browser,
// their last hour as charts.
export function HealthPage({ session, sampler }) {
  const [, set] = useState(0);
  const [hz, setHz] = useState(null);
  useEffect(() => sampler.subscribe(set), [sampler]);
  useEffect(() => {
    get('/v1/admin/health').then(setHz, () => {});
  }, []);
  const s = sampler.samples;
  const xs = s.map((x) => x.t);
  const charts = useMemo(
    () => ({
      eps: [xs, s.map((x) => x.eps)],
      lat: [xs, s.map((x) => x.p50), s.map((x) => x.p99), s.map((x) => x.p999)],
      wm: [xs, s.map((x) => x.wm)],
      mem: [xs, s.map((x) => x.heap)],
      pm: [xs, s.map((x) => x.pm)],
    }),
    [s.length, s.length && s[s.length - 1].t],
  );
  if (!session.can.manage) {
    return (
      <section>
        <header class="page-head"><h1>Health</h1></header>
        <Empty>Engine health needs the manage capability; your role is {session.role}.{hz && ` Status: ${hz.status}.`}</Empty>
      </section>
    );
  }
  const st = sampler.last;
  const rt = sampler.runtime || {};
  const dl = Object.entries((st && st.dead_letters) || {}).sort((a, b) => b[1] - a[1]);
  return (
    <section>
      <header class="page-head">
        <div>
          <h1>Health</h1>
          <p class="muted">{hz ? <span class={'badge health-' + hz.status}>{hz.status}</span> : null} {hz && hz.detail} · sampled every 2 s by this browser; charts cover up to the last hour.</p>
        </div>
      </header>
      <ErrorBox error={sampler.error} />
      {st && (
        <div class="metrics">
          <div class="metric"><div class="metric-label">Events/s</div><div class="metric-value" data-testid="eps">{fmtNum(st.events_per_second, 1)}</div></div>
          <div class="metric"><div class="metric-label">Watermark delay</div><div class="metric-value">{st.watermark ? fmtAge(Number(st.watermark_delay_ms)) : '—'}</div></div>
          <div class="metric"><div class="metric-label">Latency p50 / p99 / p99.9</div><div class="metric-value small">{fmtNum(st.latency_p50_ms, 2)} / {fmtNum(st.latency_p99_ms, 2)} / {fmtNum(st.latency_p999_ms, 2)} ms</div></div>
          <div class="metric"><div class="metric-label">Partial matches</div><div class="metric-value">{fmtNum(st.live_partial_matches)}</div><div class="metric-hint">{fmtNum(st.keys)} keys hold state</div></div>
          <div class="metric"><div class="metric-label">Checkpoint age</div><div class="metric-value">{fmtAge(rt.checkpoint_age_ms)}</div><div class="metric-hint">{fmtNum(rt.checkpoints)} saved, {fmtNum(rt.checkpoint_failures)} failed{rt.checkpoint_bytes ? ', last ' + fmtBytes(rt.checkpoint_bytes) : ''}</div></div>
          <div class="metric"><div class="metric-label">Memory (heap)</div><div class="metric-value">{fmtBytes(rt.heap_alloc_bytes)}</div><div class="metric-hint">{fmtBytes(rt.sys_bytes)} from the OS · {rt.goroutines} goroutines</div></div>
        </div>
      )}
      <div class="grid2">
        <div class="card"><Chart title="Events per second" data={charts.eps} series={['events/s']} /></div>
        <div class="card"><Chart title="Latency to alert (ms)" data={charts.lat} series={['p50', 'p99', 'p99.9']} /></div>
        <div class="card"><Chart title="Watermark delay (s)" data={charts.wm} series={['delay']} /></div>
        <div class="card"><Chart title="Heap (MiB)" data={charts.mem} series={['heap']} /></div>
      </div>
      <div class="grid2">
        <div class="card table-card">
          <h2 class="card-title">Partial matches and alerts per rule</h2>
          <table class="table table-compact">
            <TableHead cols={['Rule', 'Mode', ['Partial matches', 'num'], ['Alerts', 'num']]} />
            <tbody>
              {((st && st.rules) || []).slice().sort((a, b) => Number(b.live_partial_matches) - Number(a.live_partial_matches)).map((r) => (
                <tr><td class="mono">{r.id}</td><td>{r.mode}</td><td class="num">{fmtNum(r.live_partial_matches)}</td><td class="num">{fmtNum(r.alerts)}</td></tr>
              ))}
            </tbody>
          </table>
        </div>
        <div>
          <div class="card table-card">
            <h2 class="card-title">Dead letters by reason</h2>
            {dl.length === 0 ? <Empty>None.</Empty> : (
              <table class="table table-compact">
                <tbody>{dl.map(([k, n]) => <tr><td>{k}</td><td class="num">{fmtNum(n)}</td></tr>)}</tbody>
              </table>
            )}
          </div>
          <div class="card table-card">
            <h2 class="card-title">Lag per partition</h2>
            {!st || !(st.lag || []).length ? <Empty>No Kafka source (REST ingest has no lag).</Empty> : (
              <table class="table table-compact">
                <TableHead cols={['Topic', 'Partition', ['Next', 'num'], ['End', 'num'], ['Lag', 'num']]} />
                <tbody>{st.lag.map((l) => <tr><td>{l.topic}</td><td>{l.partition}</td><td class="num">{fmtNum(l.next_offset)}</td><td class="num">{fmtNum(l.end_offset)}</td><td class="num">{fmtNum(l.lag)}</td></tr>)}</tbody>
              </table>
            )}
          </div>
          <div class="card"><Chart title="Live partial matches" data={charts.pm} series={['partial matches']} height={160} /></div>
        </div>
      </div>
    </section>
  );
}
