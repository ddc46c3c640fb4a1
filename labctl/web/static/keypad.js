// On-screen numeric keypad for gloved fingers: keys key-0..key-9 and key-del, plus a caller's submit key.
import { button, h } from './dom.js';

const ROWS = ['1', '2', '3', '4', '5', '6', '7', '8', '9'];

/** onKey(digit | "del"); submitKey takes the bottom-right place. */
export function keypad(onKey, submitKey) {
  const keys = ROWS.map((d) => button(d, `key-${d}`, () => onKey(d), 'btn key'));
  keys.push(button('⌫ Delete', 'key-del', () => onKey('del'), 'btn key key-del'));
  keys.push(button('0', 'key-0', () => onKey('0'), 'btn key'));
  keys.push(submitKey);
  return h('div', { class: 'keypad', testid: 'keypad' }, keys);
}
