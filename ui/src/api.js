// The REST client: every call carries the signed-in token; errors come back as ApiError
// with the server's message (and, for rule errors, their line and column).

const TOKEN_KEY = 'cepd.token';

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

export function setToken(t) {
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
  else sessionStorage.removeItem(TOKEN_KEY);
}

function headers(extra) {
  const h = { ...extra };
  const t = getToken();
  if (t) h.Authorization = 'Bearer ' + t;
  return h;
}

export async function api(method, path, body) {
  const init = { method, headers: headers(body !== undefined ? { 'Content-Type': 'application/json' } : {}) };
  if (body !== undefined) init.body = JSON.stringify(body);
  const res = await fetch(path, init);
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { message: text };
  }
  if (!res.ok) {
    const msg = (data && (data.message || data.error)) || res.status + ' ' + res.statusText;
    throw new ApiError(res.status, msg, data);
  }
  return data;
}

export const get = (p) => api('GET', p);
export const post = (p, b) => api('POST', p, b ?? {});
export const put = (p, b) => api('PUT', p, b);

export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, v);
  const s = u.toString();
  return s ? '?' + s : '';
}

// Rule errors of a rejected change: the gateway's details carry a ValidateRuleResponse.
export function ruleErrorsOf(err) {
  const d = err && err.body && err.body.details;
  if (Array.isArray(d)) for (const x of d) if (x && Array.isArray(x.errors)) return x.errors;
  return [];
}

// streamAlerts reads the SSE alert stream with fetch (EventSource cannot send a bearer
// token) and reconnects after a drop, resuming after the last alert seen (Last-Event-ID).
// onStatus gets 'connecting' | 'live' | 'reconnecting' and, on resume, whether the server
// still held the last alert. Returns a function that stops the stream.
export function streamAlerts({ lastId, onAlert, onStatus }) {
  let stopped = false;
  let ctrl = null;
  let last = lastId || '';
  let retryMs = 500;
  const run = async () => {
    while (!stopped) {
      ctrl = new AbortController();
      onStatus(last ? 'reconnecting' : 'connecting');
      try {
        const h = headers({ Accept: 'text/event-stream' });
        if (last) h['Last-Event-ID'] = last;
        const res = await fetch('/v1/alerts:stream', { headers: h, signal: ctrl.signal });
        if (!res.ok) throw new Error('stream: ' + res.status);
        onStatus('live', res.headers.get('X-Cepd-Resumed'));
        retryMs = 500;
        const reader = res.body.getReader();
        const dec = new TextDecoder();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += dec.decode(value, { stream: true });
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            let id = '', data = '', event = 'message';
            for (const line of block.split('\n')) {
              if (line.startsWith('id: ')) id = line.slice(4);
              else if (line.startsWith('data: ')) data += line.slice(6);
              else if (line.startsWith('event: ')) event = line.slice(7);
            }
            if (event === 'alert' && data) {
              if (id) last = id;
              try {
                onAlert(JSON.parse(data));
              } catch {
                /* a malformed line is skipped */
              }
            }
          }
        }
      } catch (e) {
        if (stopped) return;
      }
      if (stopped) return;
      onStatus('reconnecting');
      await new Promise((r) => setTimeout(r, retryMs));
      retryMs = Math.min(retryMs * 2, 8000);
    }
  };
  run();
  return () => {
    stopped = true;
    if (ctrl) ctrl.abort();
  };
}
