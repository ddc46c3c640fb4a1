// The top bar: lab name, clock, navigation, alarm count, the signed-in person and sign-out.
import { button, h, setText, show } from './dom.js';
import { clock } from './units.js';

/** Unacknowledged active alarms. */
export function unackedCount(state) {
  return (state?.alarms ?? []).filter((a) => a.active && !a.acked_by).length;
}

/** actions: signout(), signin(). */
export function topbar(actions) {
  const lab = h('span', { class: 'lab-name', testid: 'lab-name' });
  const time = h('span', { class: 'clock', testid: 'clock' });
  const count = h('span', { class: 'alarm-count', testid: 'alarm-count', text: '0' });
  const links = {
    overview: h('a', { class: 'nav-link', href: '#/', testid: 'nav-overview', text: 'Overview' }),
    alarms: h('a', { class: 'nav-link nav-alarms', href: '#/alarms', testid: 'nav-alarms' }, 'Alarms ', count),
    history: h('a', { class: 'nav-link', href: '#/history', testid: 'nav-history', text: 'History' }),
    commissioning: h('a', { class: 'nav-link', href: '#/commissioning', testid: 'nav-commissioning', text: 'Commissioning' }),
  };
  const nav = h('nav', { class: 'nav' }, links.overview, links.alarms, links.history, links.commissioning);
  const userName = h('span', { class: 'user-name' });
  const userRole = h('span', { class: 'user-role' });
  const user = h('span', { class: 'user', testid: 'topbar-user' }, userName, userRole);
  const signoutBtn = button('Sign out', 'signout', () => actions.signout(), 'btn btn-bar');
  const signinBtn = button('Sign in', 'signin-open', () => actions.signin(), 'btn btn-bar btn-primary');
  const el = h(
    'header',
    { class: 'topbar' },
    h('div', { class: 'brand' }, lab, time),
    nav,
    h('div', { class: 'who' }, user, signoutBtn, signinBtn),
  );

  const tick = () => setText(time, clock(Date.now() / 1000));
  tick();
  setInterval(tick, 1000);

  return {
    el,
    /** session: the /api/session answer; state: live state or null; route: first route segment. */
    update(session, state, route, navVisible) {
      setText(lab, state?.lab || session.lab || 'labctl');
      const n = unackedCount(state);
      setText(count, String(n));
      links.alarms.classList.toggle('hot', n > 0);
      for (const [name, link] of Object.entries(links)) {
        if (name === route) link.setAttribute('aria-current', 'page');
        else link.removeAttribute('aria-current');
      }
      show(nav, navVisible);
      show(links.commissioning, session.user?.role === 'supervisor');
      show(user, Boolean(session.user));
      setText(userName, session.user?.name ?? '');
      setText(userRole, session.user?.role ?? '');
      show(signoutBtn, Boolean(session.user));
      show(signinBtn, !session.user && navVisible);
    },
  };
}
