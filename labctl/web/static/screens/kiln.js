// Kiln detail (#/kiln/<name>): readings, live chart, segment list and the run controls.
import { KilnChart } from '../chart.js';
import { button, h, reading, setText, show, touched } from '../dom.js';
import { labctl } from '../live.js';
import { duration, hmm, kilnStateLabel, tempNumberOf, tempOf, unitLabel } from '../units.js';
import { missingScreen, runFrom, setBadge, setOutcome, showAction, showAlarms, signinHint } from './common.js';

export function kilnScreen(ctx, name) {
  if (!ctx.state().kilns?.[name]) return missingScreen('kiln', name);
  const stateBadge = h('span', { class: 'badge badge-big', testid: 'kiln-state' });
  const link = h('span', { class: 'link', testid: 'kiln-link' });
  const pv = h('span', { class: 'pv', testid: 'kiln-pv', dataset: { field: 'pv_c' } });
  const sp = reading('Setpoint', 'kiln-sp-row', 'setpoint_c');
  sp.value.dataset.testid = 'kiln-sp';
  const segment = h('p', { class: 'segment', testid: 'kiln-segment', dataset: { field: 'segment' } });
  const holdback = h('p', { class: 'holdback', testid: 'kiln-holdback', dataset: { field: 'holdback_s' } });
  const eta = reading('Casting temperature in', 'kiln-eta', 'eta_s');
  const output = reading('Heating', 'kiln-output', 'output_pct');
  const run = h('p', { class: 'run-info', testid: 'kiln-run' });
  const outcome = h('p', { class: 'outcome', testid: 'kiln-outcome', dataset: { field: 'outcome' } });
  const alarm = h('p', { class: 'card-alarm', testid: 'kiln-alarm' });
  const bar = h('progress', { max: '100', value: '0', dataset: { field: 'progress_pct' } });
  const segments = h('ol', { class: 'segments', testid: 'kiln-segments' });
  const chart = new KilnChart(name);

  const buttons = {
    start: button('Start burnout', 'kiln-start', () => ctx.navigate(`#/start/${encodeURIComponent(name)}`), 'btn btn-primary btn-action'),
    hold: button('Hold', 'kiln-hold', () => runFrom(buttons.hold, ctx, 'hold', { kiln: name }), 'btn btn-action'),
    resume: button('Resume', 'kiln-resume', () => runFrom(buttons.resume, ctx, 'resume', { kiln: name }), 'btn btn-primary btn-action'),
    take_flask: button('Flask taken out', 'kiln-take-flask', () => runFrom(buttons.take_flask, ctx, 'take_flask', { kiln: name }), 'btn btn-primary btn-action'),
    abort: button('Abort', 'kiln-abort', () => abort(), 'btn btn-danger btn-action'),
  };

  for (const [command, btn] of Object.entries(buttons)) btn.dataset.command = command; // enabled if this person may give it

  async function abort() {
    const ok = await ctx.confirm(`Abort the run in ${name}? The kiln stops heating and the program ends.`, 'Yes, abort');
    if (ok) await runFrom(buttons.abort, ctx, 'abort', { kiln: name, reason: 'aborted at the touchscreen' });
  }

  const el = h(
    'section',
    { class: 'screen framed kiln', testid: 'kiln-detail' },
    h('div', { class: 'detail-head' }, h('h1', { class: 'screen-title', text: name }), stateBadge, link),
    h(
      'div',
      { class: 'scroll' },
      h(
        'div',
        { class: 'detail-body' },
        h(
          'div',
          { class: 'readings' },
        h('div', { class: 'pv-block' }, h('span', { class: 'label', text: 'Kiln' }), pv, h('span', { class: 'unit', text: unitLabel() })),
        sp.el,
        segment,
        holdback,
        eta.el,
        bar,
        output.el,
        run,
        outcome,
        alarm,
      ),
        chart.el,
      ),
      h('h2', { class: 'section-title', text: 'Program' }),
      segments,
    ),
    h('div', { class: 'actions' }, Object.values(buttons), signinHint(ctx)),
  );

  let segKey = null;
  function renderSegments(k) {
    const key = JSON.stringify([k.segments, k.segment_index]);
    if (key === segKey) return;
    segKey = key;
    const items = (k.segments ?? []).map((text, i) => {
      const current = i === k.segment_index;
      const done = k.segment_index != null && i < k.segment_index;
      return h('li', { dataset: { current: String(current), done: String(done) } }, h('span', { class: 'tick', text: done ? '✓' : current ? '▶' : '' }), text);
    });
    segments.replaceChildren(...items);
  }

  return {
    el,
    update(S, paths, t) {
      const k = S.kilns[name];
      if (!k) return;
      const at = `kilns.${name}`;
      if (touched(paths, `${at}.pv_c`)) {
        pv.textContent = tempNumberOf(k, 'pv_c');
        if (t != null) pv.dataset.t = String(t);
        labctl.lastPatchAt = performance.timeOrigin + performance.now();
      }
      if (paths === null) chart.load(k.temperatures);
      else if (touched(paths, `${at}.pv_c`) || touched(paths, `${at}.setpoint_c`)) chart.add(t, k);
      setBadge(stateBadge, ctx, kilnStateLabel(k.state), k.state);
      setText(link, `Link ${k.link}`);
      link.classList.toggle('bad', k.link === 'lost');
      link.classList.toggle('warn', k.link === 'degraded');
      setText(sp.value, tempOf(k, 'setpoint_c'));
      const count = k.segments?.length ?? 0;
      const where = k.segment_index != null && count ? `Segment ${k.segment_index + 1} of ${count}: ` : '';
      const described = where ? k.segments[k.segment_index] : k.segment;
      setText(segment, k.segment ? `${where}${described}` : 'No program running');
      setText(holdback, k.holding_back ? `Holdback: waiting for the kiln, ${duration(k.holdback_s)}` : '');
      show(holdback, Boolean(k.holding_back));
      setText(eta.value, hmm(k.eta_s));
      show(eta.el, k.eta_s != null);
      const pct = k.progress_pct ?? 0;
      if (bar.value !== pct) bar.value = pct;
      show(bar, k.progress_pct != null);
      setText(output.value, k.output_pct == null ? '—' : `${Math.round(k.output_pct)} %`);
      const info = [k.profile, k.alloy, k.piece_class, k.flask_id ? `flask ${k.flask_id}` : null, k.casting_c != null ? `cast at ${tempOf(k, 'casting_c')}` : null];
      setText(run, info.filter(Boolean).join(' · '));
      setOutcome(outcome, k.outcome, k.outcome_kind);
      showAlarms(alarm, S, name);
      renderSegments(k);
      const allowed = S.kiln_actions?.[k.state] ?? []; // what the daemon takes in this kiln's state
      for (const [action, btn] of Object.entries(buttons)) showAction(btn, allowed.includes(action), ctx);
    },
    destroy() {
      chart.destroy();
    },
  };
}
