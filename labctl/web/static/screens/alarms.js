// Alarms (#/alarms): active unacknowledged first, in red, each with an Acknowledge button.
import { button, contactChanged, h, touched } from '../dom.js';
import { dateTime } from '../units.js';
import { mayCommand, runFrom } from './common.js';

function rank(a) {
  if (a.active && !a.acked_by) return 0;
  if (!a.acked_by) return 1;
  return a.active ? 2 : 3;
}

export function alarmsScreen(ctx) {
  const list = h('ul', { class: 'rows', testid: 'alarm-list' });
  const el = h('section', { class: 'screen alarms', testid: 'alarms' }, h('h1', { class: 'screen-title', text: 'Alarms' }), list);
  let key = null;

  function row(a) {
    const status = a.active ? 'Active' : 'Cleared';
    const ack = a.acked_by
      ? h('span', { class: 'acked', text: `Acknowledged by ${a.acked_by}` })
      : button('Acknowledge', `alarm-ack-${a.id}`, (ev) => runFrom(ev.currentTarget, ctx, 'alarm_ack', { id: a.id }), 'btn btn-action');
    if (!a.acked_by) ack.disabled = !mayCommand(ctx);
    const cls = a.active && !a.acked_by ? 'row alarm-row hot' : a.active ? 'row alarm-row alarm-acked' : 'row alarm-row';
    return h(
      'li',
      { class: cls, testid: `alarm-${a.id}`, dataset: { active: String(a.active), acked: String(Boolean(a.acked_by)) } },
      h('span', { class: 'row-main' }, h('strong', { text: a.source }), ` ${a.text}`),
      h('span', { class: 'row-sub', text: `${status} · raised ${dateTime(a.raised_wall)}` }),
      ack,
    );
  }

  return {
    el,
    update(S, paths) {
      if (!touched(paths, 'alarms') && !contactChanged(paths)) return;
      const alarms = [...(S.alarms ?? [])].sort((x, y) => rank(x) - rank(y) || y.raised_wall - x.raised_wall);
      const now = JSON.stringify([alarms, mayCommand(ctx)]);
      if (now === key) return;
      key = now;
      list.replaceChildren(...(alarms.length ? alarms.map(row) : [h('li', { class: 'row', text: 'No alarms.' })]));
    },
    destroy() {},
  };
}
