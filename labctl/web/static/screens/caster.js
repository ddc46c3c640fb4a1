// Caster detail (#/caster/<name>): the sequence, melt and vacuum or spin readings, and the
// confirmation a person must give, big and unmistakable.
import { button, h, reading, setText, show } from '../dom.js';
import { stepLabel, tempOf } from '../units.js';
import { guardAction, missingScreen, refreshAction, runFrom, setBadge, setOutcome, showAction, showAlarms, signinHint } from './common.js';

const CONFIRM_TEXT = {
  flask_placed: 'The flask is in place — confirm',
  balance_confirmed: 'Flask loaded and balanced — confirm',
};

export function casterScreen(ctx, name) {
  if (!ctx.state().casters?.[name]) return missingScreen('caster', name);
  const stateBadge = h('span', { class: 'badge badge-big', testid: 'caster-state' });
  const kind = h('span', { class: 'kind', testid: 'caster-kind' });
  const waitingText = h('p', { class: 'confirm-text', testid: 'caster-confirm-text' });
  const confirm = button('Confirm', 'caster-confirm', () => confirmStep(), 'btn btn-confirm');
  const panel = h('div', { class: 'confirm-panel', testid: 'caster-confirm-panel', role: 'alert' }, waitingText, confirm);
  const steps = h('ol', { class: 'steps', testid: 'caster-steps' });
  const crucible = reading('Crucible / pour', 'caster-crucible', 'crucible_c', 'reading-big');
  const vacuum = reading('Chamber / target', 'caster-vacuum', 'chamber_mbar', 'reading-big');
  const rpm = reading('Spin / target', 'caster-rpm', 'rpm', 'reading-big');
  const lid = reading('Lid', 'caster-lid', 'lid_closed');
  const flask = reading('Flask', 'caster-flask', 'flask_present');
  const cast = h('p', { class: 'run-info', testid: 'caster-cast' });
  const outcome = h('p', { class: 'outcome', testid: 'caster-outcome', dataset: { field: 'outcome' } });
  const alarm = h('p', { class: 'card-alarm', testid: 'caster-alarm' });
  const start = button('Start a cast', 'caster-start', () => ctx.navigate(`#/cast/${encodeURIComponent(name)}`), 'btn btn-primary btn-action');
  const abort = button('Abort cast', 'caster-abort', () => abortCast(), 'btn btn-danger btn-action');
  // A drive that latched a fault (e.g. comms loss while the daemon was away) refuses new casts
  // until a person has checked the arm and clears it; the daemon checks the arm is stopped.
  const resetDrive = button('Clear drive fault', 'caster-reset-drive', () => clearDriveFault(), 'btn btn-action');
  for (const [command, btn] of [['cast_confirm', confirm], ['cast_start', start], ['cast_abort', abort], ['cast_reset_drive', resetDrive]]) {
    btn.dataset.command = command; // enabled only if this person may give it
  }
  let waitingFor = null;
  let confirmedFor = null; // the step the confirm button was last shown for

  async function clearDriveFault() {
    const ok = await ctx.confirm(`Clear the drive fault on ${name}? Check the arm is stopped and clear first.`, 'Yes, clear it');
    if (ok) await runFrom(resetDrive, ctx, 'cast_reset_drive', { caster: name });
  }

  async function confirmStep() {
    if (waitingFor) await runFrom(confirm, ctx, 'cast_confirm', { caster: name, step: waitingFor });
  }

  async function abortCast() {
    const ok = await ctx.confirm(`Abort the cast on ${name}? The caster goes to its safe state.`, 'Yes, abort');
    if (ok) await runFrom(abort, ctx, 'cast_abort', { caster: name, reason: 'aborted at the touchscreen' });
  }

  const el = h(
    'section',
    { class: 'screen framed caster', testid: 'caster-detail' },
    h('div', { class: 'detail-head' }, h('h1', { class: 'screen-title', text: name }), kind, stateBadge),
    panel,
    h(
      'div',
      { class: 'scroll' },
      h(
        'div',
        { class: 'detail-body' },
        h('div', { class: 'readings' }, crucible.el, vacuum.el, rpm.el, lid.el, flask.el, cast, outcome, alarm),
        h('div', { class: 'steps-block' }, h('h2', { class: 'section-title', text: 'Sequence' }), steps),
      ),
    ),
    h('div', { class: 'actions' }, start, abort, resetDrive, signinHint(ctx)),
  );

  let stepsKey = null;
  function renderSteps(c) {
    const key = JSON.stringify([c.steps, c.state, c.confirmations, c.step_confirmations]);
    if (key === stepsKey) return;
    stepsKey = key;
    const list = c.steps ?? [];
    const index = c.state === 'complete' ? list.length : list.indexOf(c.state);
    const by = new Map((c.confirmations ?? []).map(([step, who]) => [step, who]));
    steps.replaceChildren(
      ...list.map((step, i) => {
        const done = index >= 0 && i < index;
        const current = i === index;
        const who = by.get(c.step_confirmations?.[step] ?? step);
        return h(
          'li',
          { dataset: { step, current: String(current), done: String(done) } },
          h('span', { class: 'tick', text: done ? '✓' : current ? '▶' : '' }),
          stepLabel(step),
          who ? h('span', { class: 'who-confirmed', text: ` (${who})` }) : null,
        );
      }),
    );
  }

  function staleMark(r, field, c) {
    r.el.classList.toggle('stale', (c.stale ?? []).includes(field));
  }

  return {
    el,
    update(S) {
      const c = S.casters[name];
      if (!c) return;
      waitingFor = c.waiting_for;
      setText(kind, c.kind === 'vacuum' ? 'Vacuum' : 'Centrifugal');
      setBadge(stateBadge, ctx, stepLabel(c.state), c.state);
      show(panel, Boolean(c.waiting_for));
      setText(waitingText, c.waiting_text ?? `Waiting for: ${stepLabel(c.waiting_for)}`);
      setText(confirm, CONFIRM_TEXT[c.waiting_for] ?? 'Confirm');
      setText(crucible.value, `${tempOf(c, 'crucible_c')} / ${tempOf(c, 'pour_c')}`);
      setText(vacuum.value, `${c.chamber_mbar ?? '—'} / ${c.target_mbar ?? '—'} mbar`);
      setText(rpm.value, `${c.rpm ?? '—'} / ${c.spin_rpm ?? '—'} rpm`);
      show(vacuum.el, c.kind === 'vacuum');
      show(rpm.el, c.kind === 'centrifugal');
      setText(lid.value, c.lid_closed == null ? '—' : c.lid_closed ? 'closed' : 'open');
      setText(flask.value, c.flask_present == null ? '—' : c.flask_present ? 'present' : 'absent');
      staleMark(crucible, 'crucible_c', c);
      staleMark(vacuum, 'chamber_mbar', c);
      staleMark(rpm, 'rpm', c);
      staleMark(lid, 'lid_closed', c);
      staleMark(flask, 'flask_present', c);
      setText(cast, [c.cast_id ? `cast ${c.cast_id}` : null, c.alloy].filter(Boolean).join(' · '));
      setOutcome(outcome, c.outcome, c.outcome_kind, 'Last cast: ');
      showAlarms(alarm, S, name);
      renderSteps(c);
      const allowed = c.actions ?? []; // what the daemon takes now, in this caster's state
      showAction(start, allowed.includes('cast_start'), ctx);
      showAction(abort, allowed.includes('cast_abort'), ctx);
      showAction(resetDrive, allowed.includes('cast_reset_drive'), ctx);
      setText(resetDrive, c.drive_fault ? `Clear drive fault ${c.drive_fault}` : 'Clear drive fault');
      if (c.waiting_for && c.waiting_for !== confirmedFor) guardAction(confirm, ctx); // a new step's button
      else refreshAction(confirm, ctx);
      confirmedFor = c.waiting_for;
    },
    destroy() {},
  };
}
