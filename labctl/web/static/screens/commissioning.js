// Commissioning (#/commissioning, supervisors): every device of the lab, whether it holds a
// passing commissioning record for the current config, its last record (passed or failed,
// when, by whom) and a Commission button (the daemon's `commission` command: refused unless
// the machine is idle; the machine is left alone by its loop while it runs). Read with the
// `commissioning` command, again on "Refresh", every 2 s while a job runs, and whenever a
// machine's commissioned flag changes in the live state.
import { button, h, setText, show, touched } from '../dom.js';
import { dateTime } from '../units.js';
import { mayCommand, runFrom } from './common.js';

const POLL_MS = 2000;

/** A job started from the touchscreen: its checks so far, then its outcome. */
function jobText(job) {
  const checks = job.checks.map((c) => `${c.name} ${c.passed ? 'ok' : 'FAILED'}`).join(', ');
  const state = job.outcome === null ? 'Commissioning…' : `Last run from here: ${job.outcome}`;
  return `${state}${checks ? ` (${checks})` : ''} · by ${job.who}`;
}

/** The last record of a device, in words. */
function lastText(last) {
  if (!last) return 'Never commissioned';
  const what = last.passed ? 'Passed' : `Failed: ${last.failed.join(', ')}`;
  const who = last.who ? ` by ${last.who}` : '';
  return `${what} · ${dateTime(last.at)}${who}${last.current ? '' : ' · for an earlier config'}`;
}

/** Why it matters: a streamed machine runs uncommissioned only under the site's exemption. */
function noteText(d) {
  if (d.commissioned) return 'Commissioned for this config';
  if (!d.streamed) return 'Not commissioned (its program runs in the controller: not required)';
  return 'Not commissioned: runs only because the site allows it, under a standing alarm';
}

function row(ctx, d, busy, load) {
  const run = button('Commission', `commission-run-${d.device}`, async () => {
    const ok = await ctx.confirm(`Commission ${d.device}? Its machine must be idle: heat, pump and drive are driven off first, and the machine takes no command until the checks end.`, 'Yes, commission');
    if (ok && (await runFrom(run, ctx, 'commission', { device: d.device })) !== null) load();
  }, 'btn btn-action');
  run.disabled = busy || !mayCommand(ctx);
  const job = d.job ? h('span', { class: 'row-sub', testid: `commission-job-${d.device}`, dataset: { running: String(d.job.outcome === null) }, text: jobText(d.job) }) : null;
  return h(
    'li',
    { class: `row commission-row ${d.commissioned ? 'commissioned' : d.streamed ? 'hot' : ''}`, testid: `commission-${d.device}`, dataset: { commissioned: String(d.commissioned) } },
    h('span', { class: 'row-main' }, h('strong', { text: d.device }), ` ${d.family} · ${d.config_name}`),
    h('span', { class: 'row-sub', testid: `commission-last-${d.device}`, text: lastText(d.last) }),
    h('span', { class: `row-sub ${d.commissioned ? 'ok' : 'bad'}`, testid: `commission-state-${d.device}`, text: noteText(d) }),
    job,
    run,
  );
}

/** The machines' commissioned flags: a change means the records should be read again. */
function flags(S) {
  const machines = [...Object.values(S.kilns ?? {}), ...Object.values(S.casters ?? {})];
  return JSON.stringify(machines.map((m) => m.uncommissioned ?? []));
}

export function commissioningScreen(ctx) {
  const list = h('ul', { class: 'rows', testid: 'commission-list' });
  const hint = h('p', { class: 'hint', testid: 'commission-hint' });
  const refresh = button('Refresh', 'commission-refresh', () => load(), 'btn');
  const el = h(
    'section',
    { class: 'screen commissioning', testid: 'commissioning' },
    h('h1', { class: 'screen-title', text: 'Commissioning' }),
    hint,
    list,
    h('div', { class: 'supervisor-actions' }, refresh),
  );
  let seen = null;
  let poll = null;
  const supervisor = () => ctx.role() === 'supervisor';

  async function load() {
    clearTimeout(poll);
    if (!supervisor() || !mayCommand(ctx)) return;
    const result = await runFrom(refresh, ctx, 'commissioning', {});
    if (result === null) return;
    const rows = result.devices ?? [];
    const busy = rows.some((d) => d.job && d.job.outcome === null);
    list.replaceChildren(...(rows.length ? rows.map((d) => row(ctx, d, busy, load)) : [h('li', { class: 'row', text: 'This lab has no devices.' })]));
    if (busy) poll = setTimeout(load, POLL_MS);
  }

  return {
    el,
    update(S, paths) {
      setText(hint, supervisor() ? 'Each device is checked against labctl’s table of its family before heat is streamed to it.' : 'Commissioning is for supervisors: sign in as one.');
      show(refresh, supervisor());
      refresh.disabled = !mayCommand(ctx) || Boolean(refresh.dataset.busy);
      const now = flags(S);
      if (paths === null || ((touched(paths, 'kilns') || touched(paths, 'casters')) && now !== seen)) {
        seen = now;
        load();
      }
    },
    destroy() {
      clearTimeout(poll);
    },
  };
}
