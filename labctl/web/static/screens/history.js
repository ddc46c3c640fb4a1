// Run history (#/history): latest first, outcomes in colour (faulted in red with its reason).
import { button, h, touched } from '../dom.js';
import { dateTime, outcomeClass } from '../units.js';
import { mayCommand, runFrom, setOutcome } from './common.js';

function row(r) {
  const outcome = h('span', { class: 'outcome row-outcome' });
  const text = r.outcome ?? (r.ended_wall == null ? 'running' : null);
  setOutcome(outcome, text, r.outcome_kind, '');
  return h(
    'li',
    { class: 'row history-row', testid: `history-row-${r.id}`, dataset: { outcome: outcomeClass(r.outcome_kind) || 'none' } },
    h('span', { class: 'row-main' }, h('strong', { text: r.kiln }), ` ${r.profile_name ?? ''}${r.mode && r.mode !== 'burnout' ? ` (${r.mode})` : ''}`),
    h('span', { class: 'row-sub', text: `${dateTime(r.started_wall)} → ${r.ended_wall == null ? '…' : dateTime(r.ended_wall)} · by ${r.started_by ?? '—'}` }),
    outcome,
  );
}

export function historyScreen(ctx) {
  const list = h('ul', { class: 'rows', testid: 'history-list' });
  // Key rotation is a supervisor's action: a technician who presses it is told so by the daemon.
  const rotate = button('Rotate ledger signing key', 'ledger-rotate', async () => {
    const ok = await ctx.confirm('Rotate the ledger signing key? New records are signed with a new key.', 'Yes, rotate');
    if (ok) await runFrom(rotate, ctx, 'ledger_rotate', {});
  }, 'btn');
  rotate.disabled = !mayCommand(ctx);
  const el = h(
    'section',
    { class: 'screen history', testid: 'history' },
    h('h1', { class: 'screen-title', text: 'Run history' }),
    list,
    h('div', { class: 'supervisor-actions' }, h('p', { class: 'hint', text: 'Supervisor:' }), rotate),
  );
  return {
    el,
    update(S, paths) {
      if (!rotate.dataset.busy) rotate.disabled = !mayCommand(ctx);
      if (!touched(paths, 'history')) return;
      const rows = S.history ?? [];
      list.replaceChildren(...(rows.length ? rows.map(row) : [h('li', { class: 'row', text: 'No runs yet.' })]));
    },
    destroy() {},
  };
}
