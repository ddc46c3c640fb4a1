// The message box (every refusal, in words, until dismissed or 8 s pass) and the confirm dialog.
import { button, h } from './dom.js';

const MESSAGE_S = 8;
const YES_GUARD_MS = 600;
let box = null;
let textEl = null;
let timer = null;

export function mountUi(root) {
  textEl = h('p', { class: 'message-text' });
  box = h(
    'div',
    { class: 'message', testid: 'message', role: 'alert', hidden: true },
    textEl,
    button('OK', 'message-dismiss', hideMessage, 'btn message-dismiss'),
  );
  root.append(box);
}

/** Show text to the technician. kind: "error" (red) or "info". */
export function showMessage(text, kind = 'error') {
  textEl.textContent = text;
  box.classList.toggle('info', kind === 'info');
  box.hidden = false;
  clearTimeout(timer);
  timer = setTimeout(hideMessage, MESSAGE_S * 1000);
}

export function hideMessage() {
  clearTimeout(timer);
  if (box) box.hidden = true;
}

/** Ask a yes/no question in a modal dialog; resolves true only on the explicit "yes" button. */
export function confirmDialog(question, yesText = 'Yes', noText = 'No, go back') {
  return new Promise((resolve) => {
    const finish = (answer) => {
      overlay.remove();
      resolve(answer);
    };
    const no = button(noText, 'confirm-no', () => finish(false), 'btn btn-big');
    // the tap after the one that opened the dialog (a double-tap) must not say yes
    const yes = button(yesText, 'confirm-yes', () => finish(true), 'btn btn-big btn-danger');
    yes.disabled = true;
    const overlay = h(
      'div',
      { class: 'overlay' },
      h(
        'div',
        { class: 'dialog', role: 'dialog', 'aria-modal': 'true', testid: 'confirm' },
        h('p', { class: 'dialog-text', testid: 'confirm-text', text: question }),
        h('div', { class: 'dialog-buttons' }, no, yes),
      ),
    );
    document.body.append(overlay);
    no.focus();
    setTimeout(() => {
      yes.disabled = false;
    }, YES_GUARD_MS);
  });
}
