// Live state over the websocket: a full state first, then patches of changed fields only.

/** Globals for tests and the latency benchmark. */
export const labctl = { state: null, patches: 0, lastPatchAt: 0, contact: false, heardAt: null };
globalThis.__labctl = labctl; // window.__labctl in the browser

/**
 * Apply a patch {set: [[path, value]...], unset: [path...]} (paths are arrays of keys) to state
 * in place, removals first; returns the changed paths joined with dots (for the screens).
 */
export function applyPatch(state, patch) {
  const changed = new Set();
  for (const keys of patch.unset ?? []) {
    let node = state;
    for (const key of keys.slice(0, -1)) node = node?.[key];
    if (node && typeof node === 'object') delete node[keys[keys.length - 1]];
    changed.add(keys.join('.'));
  }
  for (const [keys, value] of patch.set ?? []) {
    let node = state;
    for (const key of keys.slice(0, -1)) {
      if (node[key] == null || typeof node[key] !== 'object' || Array.isArray(node[key])) node[key] = {};
      node = node[key];
    }
    node[keys[keys.length - 1]] = value;
    changed.add(keys.join('.'));
  }
  return changed;
}

const BACKOFF_S = [1, 2, 4, 8, 10];
/** The daemon sends a heartbeat every second; this long without any message, contact is lost. */
export const STALE_AFTER_MS = 5000;
const CHECK_MS = 250;

/**
 * One websocket to /ws with reconnect and backoff (1, 2, 4, 8, 10 s...).
 * hooks: onFull(state, t), onPatch(paths, t), onStatus(connected: bool),
 * onContact(inContact: bool, heardAt: wall seconds | null), mayConnect(): Promise<bool> (asked
 * before each reconnect; false stops the loop).
 *
 * Contact: a full state has come on the open socket and some message (patch, heartbeat) within
 * STALE_AFTER_MS. A frozen daemon or a cut network leaves the socket open and silent, so the
 * silence is what tells; `heardAt` is when the last message came (this browser's clock).
 */
export class Live {
  constructor(hooks) {
    this.hooks = hooks;
    this.ws = null;
    this.running = false;
    this.attempt = 0;
    this.timer = null;
    this.contact = false;
    this.fresh = false; // a full state came on this socket
    this.heardMs = 0; // performance.now() of the last message
    this.heardAt = null; // Date.now() / 1000 of the last message
    setInterval(() => this.checkContact(), CHECK_MS);
  }

  /** Whether what the screen shows is live; tells hooks.onContact when that changes. */
  checkContact() {
    const live = this.ws !== null && this.fresh && performance.now() - this.heardMs < STALE_AFTER_MS;
    if (live === this.contact) return;
    this.contact = live;
    labctl.contact = live;
    this.hooks.onContact?.(live, this.heardAt);
  }

  heard() {
    this.heardMs = performance.now();
    this.heardAt = Date.now() / 1000;
    labctl.heardAt = this.heardAt;
  }

  start() {
    if (this.running) return;
    this.running = true;
    this.attempt = 0;
    this.connect();
  }

  /** Close and reconnect at once (after sign-in the cookie changed). */
  restart() {
    this.stop();
    this.start();
  }

  stop() {
    this.running = false;
    clearTimeout(this.timer);
    this.fresh = false;
    this.heardAt = null; // a deliberate stop (sign-in, sign-out) is no lost contact
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.close();
    }
    this.checkContact();
  }

  connect() {
    this.fresh = false;
    const proto = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${proto}://${location.host}/ws`);
    this.ws = ws;
    ws.addEventListener('message', (ev) => this.receive(ev));
    ws.addEventListener('close', () => this.closed(ws));
  }

  receive(ev) {
    let msg;
    try {
      msg = JSON.parse(ev.data);
    } catch {
      return;
    }
    if (ev.target !== this.ws) return; // a socket already replaced
    this.heard();
    if (msg.type === 'full') {
      this.attempt = 0;
      this.fresh = true;
      labctl.state = msg.state;
      this.checkContact();
      this.hooks.onStatus(true);
      this.hooks.onFull(msg.state, msg.t);
    } else if (msg.type === 'patch' && labctl.state) {
      const paths = applyPatch(labctl.state, msg);
      labctl.patches += 1;
      this.checkContact();
      this.hooks.onPatch(paths, msg.t);
    } else {
      this.checkContact(); // a heartbeat
    }
  }

  async closed(ws) {
    if (ws !== this.ws || !this.running) return;
    this.ws = null;
    this.fresh = false;
    this.checkContact();
    this.hooks.onStatus(false);
    const delay = BACKOFF_S[Math.min(this.attempt, BACKOFF_S.length - 1)];
    this.attempt += 1;
    this.timer = setTimeout(async () => {
      if (!this.running) return;
      if (await this.hooks.mayConnect()) {
        if (this.running) this.connect();
      } else {
        this.running = false;
      }
    }, delay * 1000);
  }
}
