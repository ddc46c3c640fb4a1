// Pieces shared by the screens.
import { h, setData, setText, show } from '../dom.js';
import { clockSeconds, outcomeClass } from '../units.js';

/** Active alarms raised by machine `name` (source "kiln1" or "kiln1.something"). */
export function machineAlarms(state, name) {
  return (state.alarms ?? []).filter((a) => a.active && (a.source === name || String(a.source).split(/[.:/ ]/)[0] === name));
}

/** Show a run outcome with the colour of its kind (completed green, faulted red, others amber). */
export function setOutcome(el, outcome, kind, prefix = 'Last run: ') {
  setText(el, outcome ? `${prefix}${outcome}` : `${prefix}—`);
  el.classList.remove('ok', 'bad', 'warn');
  const cls = outcomeClass(kind);
  if (cls) el.classList.add(cls);
}

/** Show a machine's active alarms: red while any is unacknowledged, amber once all are acknowledged. */
export function showAlarms(el, state, name) {
  const alarms = machineAlarms(state, name);
  setText(el, alarms.map((a) => a.text).join(' · '));
  el.hidden = alarms.length === 0;
  const unacked = alarms.some((a) => !a.acked_by);
  el.classList.toggle('acked', !unacked);
  return unacked;
}

/** A machine's "Not commissioned" badge (hidden until `showCommissioned` says otherwise). */
export function commissionBadge(name) {
  return h('span', { class: 'badge badge-uncommissioned', testid: `not-commissioned-${name}`, text: 'Not commissioned', hidden: true });
}

/** Show the badge while a device of machine `m` holds no passing record for this config. */
export function showCommissioned(badge, m) {
  const devices = m?.uncommissioned ?? [];
  show(badge, m?.commissioned === false);
  const title = devices.length ? `No passing commissioning record for this config: ${devices.join(', ')}` : '';
  if (badge.title !== title) badge.title = title;
}

/** A screen for a machine that does not exist (any more). */
export function missingScreen(kind, name) {
  const el = h(
    'section',
    { class: 'screen', testid: 'missing' },
    h('h1', { class: 'screen-title', text: `No ${kind} named “${name}”` }),
    h('a', { class: 'btn', href: '#/', text: 'Back to the overview' }),
  );
  return { el, update() {}, destroy() {} };
}

/** The hint beside disabled controls when nobody is signed in. */
export function signinHint(ctx) {
  const el = h('p', { class: 'hint signin-hint', testid: 'signin-hint', text: 'Sign in to operate' });
  el.hidden = ctx.canOperate();
  return el;
}

/** How long a command button that has just appeared ignores taps (the second tap of a double-tap). */
export const APPEAR_GUARD_MS = 1000;
/** How long a button stays disabled after its answer, waiting for the state that answer changed. */
export const STATE_WAIT_MS = 3000;

function guarded(btn) {
  return performance.now() < Number(btn.dataset.guardUntil ?? 0);
}

/**
 * Whether a command may be sent: someone is signed in, the daemon is heard from and, for a
 * named `command`, the registry lets this person give it.
 */
export function mayCommand(ctx, command = null) {
  return ctx.canOperate() && ctx.inContact() && (command === null || ctx.mayGive(command));
}

/** What a state badge says while the daemon is not heard from ("no contact since 14:02:11"). */
export function noContactText(ctx) {
  const since = ctx.contactSince();
  return since == null ? 'no contact' : `no contact since ${clockSeconds(since)}`;
}

/**
 * Write a machine's state into its badge; without contact, say since when there is none (the
 * state shown would be a guess) with data-state="no-contact".
 */
export function setBadge(badge, ctx, label, state) {
  const live = ctx.inContact();
  setText(badge, live ? label : noContactText(ctx));
  setData(badge, 'state', live ? state : 'no-contact');
}

/**
 * Enable a command button only when its command (data-command) may be sent and it is not in
 * flight or guarded.
 */
export function refreshAction(btn, ctx) {
  btn.disabled = !mayCommand(ctx, btn.dataset.command ?? null) || Boolean(btn.dataset.busy) || guarded(btn);
}

/**
 * Make `btn` ignore taps for APPEAR_GUARD_MS: it has just taken the place of another button
 * (Resume where Hold was), so a tap now was meant for the one before.
 */
export function guardAction(btn, ctx) {
  btn.dataset.guardUntil = String(performance.now() + APPEAR_GUARD_MS);
  clearTimeout(Number(btn.dataset.guardTimer ?? 0));
  btn.dataset.guardTimer = String(setTimeout(() => refreshAction(btn, ctx), APPEAR_GUARD_MS + 20));
  refreshAction(btn, ctx);
}

/** Show or hide a command button; one that (re)appears is guarded against a double-tap. */
export function showAction(btn, visible, ctx) {
  if (visible && btn.hidden) {
    show(btn, true);
    guardAction(btn, ctx);
  } else {
    show(btn, visible);
    refreshAction(btn, ctx);
  }
}

/**
 * Run a command from a button: disabled from the tap until its answer and the next state have
 * arrived (a command that was done changes what the screen shows; until then a second tap
 * would act on a stale screen). Refusals go to the message box; a guarded button ignores taps.
 */
export async function runFrom(btn, ctx, name, payload) {
  if (btn.dataset.busy || guarded(btn)) return null;
  btn.disabled = true;
  btn.dataset.busy = 'true';
  try {
    const result = await ctx.run(name, payload);
    if (result !== null) await ctx.nextState(STATE_WAIT_MS);
    return result;
  } finally {
    delete btn.dataset.busy;
    refreshAction(btn, ctx);
  }
}
