// Sign-in by badge number and PIN, typed on the on-screen keypad (no keyboard needed).
import * as api from './api.js';
import { button, h, setText } from './dom.js';
import { keypad } from './keypad.js';

const MAX_DIGITS = 12;

/** ctx: onSignedIn(response), canCancel (view without sign-in allowed), cancel(). */
export function signinScreen(ctx) {
  const values = { badge: '', pin: '' };
  let active = 'badge';
  let busy = false;

  const badgeValue = h('span', { class: 'field-value' });
  const pinValue = h('span', { class: 'field-value' });
  const badgeField = h(
    'button',
    { type: 'button', class: 'field', testid: 'signin-badge', on: { click: () => choose('badge') } },
    h('span', { class: 'field-label', text: 'Badge number' }),
    badgeValue,
  );
  const pinField = h(
    'button',
    { type: 'button', class: 'field', testid: 'signin-pin', on: { click: () => choose('pin') } },
    h('span', { class: 'field-label', text: 'PIN' }),
    pinValue,
  );
  const error = h('p', { class: 'signin-error', testid: 'signin-error', role: 'alert' });
  const submit = button('Sign in', 'signin-submit', () => submitForm(), 'btn btn-primary key key-submit');

  let tick = null;

  function stopCountdown() {
    clearInterval(tick);
    tick = null;
  }

  /** Show a lock's reason with the seconds left, counted down every second. */
  function countdown(reason, seconds) {
    const until = performance.now() + seconds * 1000;
    const draw = () => {
      const left = Math.ceil((until - performance.now()) / 1000);
      if (left <= 0) {
        stopCountdown();
        setText(error, 'You can try again now.');
        error.dataset.countdown = '0';
        return;
      }
      setText(error, reason.replace(/try again in \d+ s/, `try again in ${left} s`));
      error.dataset.countdown = String(left);
    };
    draw();
    tick = setInterval(draw, 1000);
  }

  function render() {
    setText(badgeValue, values.badge);
    setText(pinValue, '•'.repeat(values.pin.length));
    badgeField.classList.toggle('active', active === 'badge');
    pinField.classList.toggle('active', active === 'pin');
    badgeField.setAttribute('aria-pressed', String(active === 'badge'));
    pinField.setAttribute('aria-pressed', String(active === 'pin'));
    submit.disabled = busy;
  }

  function choose(field) {
    active = field;
    render();
  }

  function key(k) {
    if (k === 'del') values[active] = values[active].slice(0, -1);
    else if (values[active].length < MAX_DIGITS) values[active] += k;
    render();
  }

  async function submitForm() {
    if (busy) return;
    if (!values.badge) {
      choose('badge');
      setText(error, 'Enter your badge number.');
      return;
    }
    if (!values.pin) {
      choose('pin');
      setText(error, 'Enter your PIN.');
      return;
    }
    busy = true;
    render();
    stopCountdown();
    delete error.dataset.countdown;
    setText(error, '');
    try {
      const resp = await api.signin(values.badge, values.pin);
      values.pin = '';
      ctx.onSignedIn(resp);
    } catch (err) {
      values.pin = '';
      active = 'pin';
      stopCountdown();
      const wait = Number(err.body?.retry_after_s);
      if (wait > 0) countdown(err.message, wait);
      else setText(error, err.message);
    } finally {
      busy = false;
      render();
    }
  }

  function onKeyDown(ev) {
    if (/^[0-9]$/.test(ev.key)) key(ev.key);
    else if (ev.key === 'Backspace') key('del');
    else if (ev.key === 'Enter') submitForm();
    else if (ev.key === 'Tab') choose(active === 'badge' ? 'pin' : 'badge');
    else return;
    ev.preventDefault();
  }
  document.addEventListener('keydown', onKeyDown);

  const fields = h(
    'div',
    { class: 'signin-fields' },
    h('h1', { class: 'screen-title', text: 'Sign in' }),
    h('p', { class: 'hint', text: 'Tap a field, then type on the keypad.' }),
    badgeField,
    pinField,
    error,
    ctx.canCancel ? button('Back to the lab', 'signin-cancel', () => ctx.cancel(), 'btn') : null,
  );
  const el = h('section', { class: 'screen signin', testid: 'signin' }, fields, keypad(key, submit));
  render();
  return {
    el,
    update() {},
    destroy() {
      stopCountdown();
      document.removeEventListener('keydown', onKeyDown);
    },
  };
}
