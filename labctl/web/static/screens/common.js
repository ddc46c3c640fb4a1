// Pieces shared by the screens.
import { h, setText } from '../dom.js';
import { localText, outcomeClass } from '../units.js';

/** Active alarms raised by machine `name` (source "kiln1" or "kiln1.something"). */
export function machineAlarms(state, name) {
  return (state.alarms ?? []).filter((a) => a.active && (a.source === name || String(a.source).split(/[.:/ ]/)[0] === name));
}

/** Show a run outcome with its colour (completed green, faulted red, others amber). */
export function setOutcome(el, outcome, prefix = 'Last run: ') {
  setText(el, outcome ? `${prefix}${localText(outcome)}` : `${prefix}—`);
  el.classList.remove('ok', 'bad', 'warn');
  const cls = outcomeClass(outcome);
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

/** Run a command from a button: disabled while in flight; refusals go to the message box. */
export async function runFrom(btn, ctx, name, payload) {
  btn.disabled = true;
  btn.dataset.busy = 'true';
  try {
    return await ctx.run(name, payload);
  } finally {
    delete btn.dataset.busy;
    btn.disabled = !ctx.canOperate();
  }
}
