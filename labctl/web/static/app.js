// labctl touchscreen: session, live state, routing (#/, #/kiln/<n>, #/start/<n>, #/caster/<n>,
// #/cast/<n>, #/alarms, #/history, #/commissioning, #/signin).
import * as api from './api.js';
import { CONTACT, h, setText, show } from './dom.js';
import { watchIdle } from './idle.js';
import { Live, labctl } from './live.js';
import { alarmsScreen } from './screens/alarms.js';
import { castScreen } from './screens/cast.js';
import { casterScreen } from './screens/caster.js';
import { commissioningScreen } from './screens/commissioning.js';
import { historyScreen } from './screens/history.js';
import { kilnScreen } from './screens/kiln.js';
import { overviewScreen } from './screens/overview.js';
import { startScreen } from './screens/start.js';
import { signinScreen } from './signin.js';
import { topbar } from './topbar.js';
import { confirmDialog, mountUi, showMessage } from './ui.js';
import { clockSeconds, setUnit } from './units.js';

const SCREENS = {
  '': () => overviewScreen(ctx),
  kiln: (name) => kilnScreen(ctx, name),
  start: (name) => startScreen(ctx, name),
  caster: (name) => casterScreen(ctx, name),
  cast: (name) => castScreen(ctx, name),
  alarms: () => alarmsScreen(ctx),
  history: () => historyScreen(ctx),
  commissioning: () => commissioningScreen(ctx),
};

let session = { user: null, csrf: null, lab: '', temperature_unit: 'C', idle_signout_s: 0, view_without_signin: false };
let current = null;
labctl.session = () => session;

const bar = topbar({ signout: () => signout(), signin: () => navigate('#/signin') });
const connLost = h('div', { class: 'conn-lost', testid: 'conn-lost', role: 'alert', hidden: true });
let lastT = null; // the daemon's wall time of the last state, for screens redrawn on contact

/** The banner while the daemon is not heard from: since when, and that values are not live. */
function showContact() {
  const lost = !live.contact && !signinRequired() && (live.heardAt !== null || live.attempt > 0);
  show(connLost, lost && booted);
  const since = live.heardAt === null ? '' : ` since ${clockSeconds(live.heardAt)}`;
  setText(connLost, `No contact with the lab controller${since}: the values shown are not live. Reconnecting…`);
  document.body.classList.toggle('no-contact', lost && labctl.state !== null);
}
const main = h('main', { class: 'main' });

/** Resolvers waiting for the next state from the daemon (see ctx.nextState). */
const stateWaiters = new Set();

function stateArrived() {
  const waiting = [...stateWaiters];
  stateWaiters.clear();
  for (const resolve of waiting) resolve();
}

/** What screens may use. */
const ctx = {
  state: () => labctl.state,
  canOperate: () => Boolean(session.user),
  /** Whether the registry lets the signed-in person give command `name` (the server's list). */
  mayGive: (name) => (session.commands ?? []).includes(name),
  /** The signed-in person's role ("technician", "supervisor"), or null. */
  role: () => session.user?.role ?? null,
  /** Whether the daemon is heard from (commands are disabled while it is not). */
  inContact: () => live.contact,
  /** Wall seconds of the last message from the daemon (null: none on this connection). */
  contactSince: () => live.heardAt,
  navigate,
  confirm: confirmDialog,
  /** Resolves when the next state (full or patch) arrives, or after `ms` at the latest. */
  nextState(ms) {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        stateWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      stateWaiters.add(done);
    });
  },
  /** Run a command; null when refused (the reason is shown in the message box). */
  async run(name, payload) {
    try {
      return await api.command(name, payload);
    } catch (err) {
      if (err.status !== 401) showMessage(err.message);
      return null;
    }
  },
};

const live = new Live({
  onFull: (_, t) => {
    lastT = t;
    render();
    stateArrived();
  },
  onPatch: (paths, t) => {
    lastT = t;
    current?.update(labctl.state, paths, t);
    refreshBar();
    stateArrived();
  },
  onStatus: () => showContact(),
  onContact: () => {
    showContact();
    // every screen redraws its badges and command buttons for the new contact state
    if (labctl.state) current?.update(labctl.state, new Set([CONTACT]), lastT);
  },
  mayConnect: async () => {
    await loadSession();
    if (signinRequired()) {
      render();
      return false;
    }
    return true;
  },
});

function signinRequired() {
  return !session.user && !session.view_without_signin;
}

function route() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  return { name: parts[0] ?? '', arg: parts[1] ?? '' };
}

function navigate(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

function refreshBar() {
  const r = route().name;
  bar.update(session, signinRequired() ? null : labctl.state, r === '' ? 'overview' : r, !signinRequired());
}

function mount(screen) {
  current?.destroy();
  current = screen;
  main.replaceChildren(screen.el);
  main.scrollTop = 0;
}

/** Draw the screen the route and the session call for. */
function render() {
  refreshBar();
  const r = route();
  if (signinRequired() || r.name === 'signin') {
    mount(
      signinScreen({
        onSignedIn,
        canCancel: session.view_without_signin,
        cancel: () => navigate('#/'),
      }),
    );
    return;
  }
  if (!labctl.state) {
    mount({ el: h('section', { class: 'screen', testid: 'connecting' }, h('p', { class: 'hint', text: 'Connecting to the lab controller…' })), update() {}, destroy() {} });
    return;
  }
  const make = SCREENS[r.name] ?? SCREENS[''];
  mount(make(r.arg));
  current.update(labctl.state, null, labctl.state.now ?? null);
}

async function loadSession() {
  try {
    session = await api.getSession();
    session.commands = session.user ? (await api.getCommands()).commands : [];
    api.setCsrf(session.csrf);
    setUnit(session.temperature_unit);
    return true;
  } catch {
    return false;
  }
}

function onSignedIn(resp) {
  session = { ...session, user: resp.user, csrf: resp.csrf, commands: resp.commands ?? [] };
  api.setCsrf(resp.csrf);
  labctl.state = null;
  live.restart();
  if (route().name === 'signin') navigate('#/');
  else render();
}

async function signout() {
  session = { ...session, user: null, commands: [] };
  try {
    await api.signout();
  } catch {
    // The server expires the session anyway.
  }
  await endSession();
}

/** Back to the sign-in screen (after sign-out, idle time-out or a 401). */
async function endSession() {
  session = { ...session, user: null, commands: [] };
  live.stop();
  labctl.state = null;
  await loadSession();
  if (session.view_without_signin) live.start();
  navigate('#/signin');
}

api.setUnauthorizedHandler(() => {
  if (!session.user) return;
  showMessage('Your session has ended. Sign in again.', 'info');
  endSession();
});

let booted = false;

async function boot() {
  document.body.append(bar.el, connLost, main);
  mountUi(document.body);
  let delay = 1;
  while (!(await loadSession())) {
    setText(connLost, 'No contact with the lab controller. Retrying…');
    show(connLost, true);
    await new Promise((resolve) => setTimeout(resolve, delay * 1000));
    delay = Math.min(delay * 2, 10);
  }
  show(connLost, false);
  booted = true;
  window.addEventListener('hashchange', render);
  watchIdle(
    () => (session.user ? session.idle_signout_s : 0),
    () => signout(),
  );
  if (!signinRequired()) live.start();
  render();
}

boot();
