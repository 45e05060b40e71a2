// Client-side state shared by the screens: the live alerts (newest first, at most
// MAX_ALERTS) fed by the SSE stream, and the health samples of the last hour.

import { useEffect, useState } from 'preact/hooks';
import { get, qs, streamAlerts } from './api.js';

export const MAX_ALERTS = 10000;

export class AlertStore {
  constructor() {
    this.alerts = [];
    this.ids = new Set();
    this.status = 'idle';
    this.resumed = null;
    this.version = 0;
    this.subs = new Set();
    this.stop = null;
    this.flushPending = false;
  }
  subscribe(fn) {
    this.subs.add(fn);
    return () => this.subs.delete(fn);
  }
  // notify batches bursts of alerts into one render per animation frame.
  notify() {
    if (this.flushPending) return;
    this.flushPending = true;
    requestAnimationFrame(() => {
      this.flushPending = false;
      this.version++;
      for (const f of this.subs) f(this.version);
    });
  }
  add(a, atEnd) {
    if (!a || !a.id || this.ids.has(a.id)) return;
    this.ids.add(a.id);
    if (atEnd) this.alerts.push(a);
    else this.alerts.unshift(a);
    if (this.alerts.length > MAX_ALERTS) {
      const gone = this.alerts.splice(MAX_ALERTS);
      for (const g of gone) this.ids.delete(g.id);
    }
    this.notify();
  }
  async start() {
    this.close();
    this.alerts = [];
    this.ids = new Set();
    let lastId = '';
    try {
      const r = await get('/v1/alerts' + qs({ limit: MAX_ALERTS }));
      for (const a of r.alerts || []) this.add(a, true);
      lastId = (r.alerts && r.alerts[0] && r.alerts[0].id) || '';
    } catch {
      /* the stream below reports the state */
    }
    this.stop = streamAlerts({
      lastId,
      onAlert: (a) => this.add(a, false),
      onStatus: (s, resumed) => {
        this.status = s;
        if (resumed != null) this.resumed = resumed;
        this.notify();
      },
    });
  }
  close() {
    if (this.stop) this.stop();
    this.stop = null;
    this.status = 'idle';
  }
}

export function useStore(store) {
  const [, set] = useState(0);
  useEffect(() => store.subscribe(set), [store]);
  return store;
}

// HealthSampler polls the admin stats every few seconds while someone may look and keeps
// an hour of samples for the charts.
export class HealthSampler {
  constructor() {
    this.samples = [];
    this.last = null;
    this.runtime = null;
    this.error = '';
    this.timer = null;
    this.subs = new Set();
  }
  subscribe(fn) {
    this.subs.add(fn);
    return () => this.subs.delete(fn);
  }
  start(everyMs = 2000) {
    if (this.timer) return;
    const tick = async () => {
      try {
        const [st, rt] = await Promise.all([get('/v1/admin/stats'), get('/v1/admin/runtime')]);
        this.last = st;
        this.runtime = rt;
        this.error = '';
        const now = Date.now() / 1000;
        this.samples.push({
          t: now,
          eps: st.events_per_second || 0,
          p50: st.latency_p50_ms || 0,
          p99: st.latency_p99_ms || 0,
          p999: st.latency_p999_ms || 0,
          wm: (st.watermark_delay_ms || 0) / 1000,
          heap: (rt.heap_alloc_bytes || 0) / 1048576,
          pm: Number(st.live_partial_matches || 0),
        });
        while (this.samples.length && this.samples[0].t < now - 3600) this.samples.shift();
      } catch (e) {
        this.error = e.message;
      }
      for (const f of this.subs) f(this.samples.length);
    };
    tick();
    this.timer = setInterval(tick, everyMs);
  }
  stop() {
    clearInterval(this.timer);
    this.timer = null;
  }
}
