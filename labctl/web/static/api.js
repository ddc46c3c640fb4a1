// HTTP calls to the labctl daemon (contract: GET /api/session, POST /api/signin|signout|command/<name>).

export class ApiError extends Error {
  constructor(status, text, body) {
    super(text);
    this.status = status;
    this.body = body ?? {};
  }
}

/** Longer than the daemon's command deadline (10 s), so a command is answered, never guessed. */
const TIMEOUT_S = 20;

let csrf = null;
let onUnauthorized = () => {};

export function setCsrf(token) {
  csrf = token ?? null;
}

/** Called on any 401 except from sign-in itself (session over: show the sign-in screen). */
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

async function request(method, path, body, { signin = false } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrf) headers['X-CSRF-Token'] = csrf;
  let resp;
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), TIMEOUT_S * 1000);
  try {
    resp = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
      signal: abort.signal,
    });
  } catch {
    throw new ApiError(0, 'No answer from the lab controller. Check the connection and try again.');
  } finally {
    clearTimeout(timer);
  }
  let data = {};
  try {
    data = await resp.json();
  } catch {
    data = {};
  }
  if (!resp.ok) {
    const text = typeof data.error === 'string' && data.error ? data.error : `Refused (HTTP ${resp.status})`;
    const err = new ApiError(resp.status, text, data);
    if (resp.status === 401 && !signin) onUnauthorized(err);
    throw err;
  }
  return data;
}

export function getSession() {
  return request('GET', '/api/session');
}

/** {commands: [...]}: what the signed-in person may give (from the daemon's registry). */
export function getCommands() {
  return request('GET', '/api/commands');
}

export function signin(badge, pin) {
  return request('POST', '/api/signin', { badge, pin }, { signin: true });
}

export function signout() {
  return request('POST', '/api/signout', {});
}

/** Run a command; resolves to its `result`, rejects with ApiError (the server's reason) when refused. */
export async function command(name, payload = {}) {
  const data = await request('POST', `/api/command/${encodeURIComponent(name)}`, payload);
  return data.result ?? {};
}

export function kilnSeries(name) {
  return request('GET', `/api/kiln/${encodeURIComponent(name)}/series`);
}
