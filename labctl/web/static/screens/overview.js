// Overview (#/): one card per kiln and per caster; tapping a card opens its detail.
import { h, setText, show, touched } from '../dom.js';
import { labctl } from '../live.js';
import { duration, hmm, kilnStateLabel, stepLabel, tempNumberOf, tempOf, unitLabel } from '../units.js';
import { commissionBadge, setBadge, setOutcome, showAlarms, showCommissioned } from './common.js';

function kilnCard(ctx, name) {
  const state = h('span', { class: 'badge', dataset: { field: 'state' } });
  const pv = h('span', { class: 'card-pv', dataset: { field: 'pv_c' } });
  const sp = h('span', { dataset: { field: 'setpoint_c' } });
  const eta = h('span', { dataset: { field: 'eta_s' } });
  const bar = h('progress', { max: '100', value: '0', dataset: { field: 'progress_pct' } });
  const link = h('span', { class: 'link', dataset: { field: 'link' } });
  const outcome = h('span', { class: 'outcome', dataset: { field: 'outcome' } });
  const alarm = h('p', { class: 'card-alarm' });
  const holdback = h('p', { class: 'holdback', dataset: { field: 'holding_back' } });
  const uncommissioned = commissionBadge(name);
  const el = h(
    'a',
    { class: 'card', href: `#/kiln/${encodeURIComponent(name)}`, testid: `kiln-card-${name}` },
    h('div', { class: 'card-head' }, h('h2', { text: name }), uncommissioned, state),
    h('div', { class: 'card-big' }, pv, h('span', { class: 'unit', text: unitLabel() })),
    h('div', { class: 'card-row' }, sp, eta),
    bar,
    h('div', { class: 'card-row' }, link, outcome),
    holdback,
    alarm,
  );
  return {
    el,
    update(S, paths, t) {
      const k = S.kilns[name];
      const at = `kilns.${name}`;
      if (touched(paths, `${at}.pv_c`)) {
        pv.textContent = tempNumberOf(k, 'pv_c');
        if (t != null) pv.dataset.t = String(t);
        if (paths !== null) labctl.lastPatchAt = performance.timeOrigin + performance.now();
      }
      setBadge(state, ctx, kilnStateLabel(k.state), k.state);
      setText(sp, `Setpoint ${tempOf(k, 'setpoint_c')}`);
      setText(eta, k.eta_s == null ? '' : `ETA ${hmm(k.eta_s)}`);
      const pct = k.progress_pct ?? 0;
      if (bar.value !== pct) bar.value = pct;
      show(bar, k.progress_pct != null);
      setText(link, `Link ${k.link}`);
      link.classList.toggle('bad', k.link === 'lost');
      link.classList.toggle('warn', k.link === 'degraded');
      setOutcome(outcome, k.outcome, k.outcome_kind);
      setText(holdback, k.holding_back ? `Holdback: waiting for the kiln, ${duration(k.holdback_s)}` : '');
      show(holdback, Boolean(k.holding_back));
      showCommissioned(uncommissioned, k);
      el.classList.toggle('alarmed', showAlarms(alarm, S, name) || k.link === 'lost');
    },
  };
}

function casterCard(ctx, name) {
  const state = h('span', { class: 'badge', dataset: { field: 'state' } });
  const crucible = h('span', { class: 'card-pv', dataset: { field: 'crucible_c' } });
  const second = h('span', { dataset: { field: 'second' } });
  const waiting = h('p', { class: 'card-waiting', dataset: { field: 'waiting_for' } });
  const outcome = h('span', { class: 'outcome', dataset: { field: 'outcome' } });
  const kind = h('span', { class: 'kind' });
  const alarm = h('p', { class: 'card-alarm' });
  const uncommissioned = commissionBadge(name);
  const el = h(
    'a',
    { class: 'card', href: `#/caster/${encodeURIComponent(name)}`, testid: `caster-card-${name}` },
    h('div', { class: 'card-head' }, h('h2', { text: name }), uncommissioned, state),
    waiting,
    h('div', { class: 'card-big' }, crucible, h('span', { class: 'unit', text: unitLabel() })),
    h('div', { class: 'card-row' }, kind, second),
    h('div', { class: 'card-row' }, outcome),
    alarm,
  );
  return {
    el,
    update(S) {
      const c = S.casters[name];
      setBadge(state, ctx, stepLabel(c.state), c.state);
      setText(crucible, tempNumberOf(c, 'crucible_c'));
      setText(kind, `${c.kind === 'vacuum' ? 'Vacuum' : 'Centrifugal'} caster`);
      setText(second, c.kind === 'vacuum' ? `Chamber ${c.chamber_mbar ?? '—'} mbar` : `Spin ${c.rpm ?? '—'} rpm`);
      setText(waiting, c.waiting_for ? `Needs you: ${c.waiting_text ?? stepLabel(c.waiting_for)}` : '');
      show(waiting, Boolean(c.waiting_for));
      setOutcome(outcome, c.outcome, c.outcome_kind, 'Last cast: ');
      showCommissioned(uncommissioned, c);
      el.classList.toggle('alarmed', showAlarms(alarm, S, name));
      el.classList.toggle('waiting', Boolean(c.waiting_for));
    },
  };
}

export function overviewScreen(ctx) {
  const grid = h('div', { class: 'cards' });
  const el = h('section', { class: 'screen overview', testid: 'overview' }, grid);
  let cards = [];
  let names = null;
  return {
    el,
    update(S, paths, t) {
      const now = [...Object.keys(S.kilns ?? {}).map((n) => `k:${n}`), ...Object.keys(S.casters ?? {}).map((n) => `c:${n}`)].join('|');
      if (now !== names) {
        names = now;
        cards = [
          ...Object.keys(S.kilns ?? {}).map((n) => kilnCard(ctx, n)),
          ...Object.keys(S.casters ?? {}).map((n) => casterCard(ctx, n)),
        ];
        grid.replaceChildren(...cards.map((c) => c.el));
        paths = null;
      }
      for (const card of cards) card.update(S, paths, t);
    },
    destroy() {},
  };
}
