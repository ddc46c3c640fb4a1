// Small DOM helpers: build elements with createElement/textContent only (no innerHTML with data).

/**
 * Create an element. props: class, testid, text, on ({event: fn}), dataset, any other attribute.
 * Children may be nodes, strings, arrays, null or false.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'testid') el.dataset.testid = value;
    else if (key === 'text') el.textContent = value;
    else if (key === 'on') for (const [ev, fn] of Object.entries(value)) el.addEventListener(ev, fn);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) if (child != null && child !== false) el.append(child);
  return el;
}

/** A big touch button. */
export function button(text, testid, onClick, cls = 'btn') {
  return h('button', { type: 'button', class: cls, testid, text, on: { click: onClick } });
}

/** Write text only when it differs (no needless DOM writes on patches). */
export function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

export function show(el, visible) {
  el.hidden = !visible;
}

/** Set or remove a data-* attribute only when it changes. */
export function setData(el, key, value) {
  if (value == null || value === false) {
    if (key in el.dataset) delete el.dataset[key];
  } else if (el.dataset[key] !== String(value)) {
    el.dataset[key] = String(value);
  }
}

/** The path a screen's update gets when contact with the daemon was lost or came back. */
export const CONTACT = 'contact';

/** Whether an update is a full redraw or a change of contact (badges and buttons to redraw). */
export function contactChanged(paths) {
  return paths === null || paths.has?.(CONTACT) === true;
}

/**
 * Whether a patch touched `prefix` (a dotted path). paths === null means "everything changed"
 * (a full state); a patch on a parent path (a whole machine replaced) also counts.
 */
export function touched(paths, prefix) {
  if (paths === null) return true;
  for (const p of paths) {
    if (p === prefix || p.startsWith(`${prefix}.`) || prefix.startsWith(`${p}.`)) return true;
  }
  return false;
}

/** A labelled reading: <div class="reading"><span class="label">…</span><span class="value">…</span></div>. */
export function reading(label, testid, field, extraClass = '') {
  const value = h('span', { class: 'value', dataset: field ? { field } : undefined });
  const el = h('div', { class: `reading ${extraClass}`.trim(), testid }, h('span', { class: 'label', text: label }), value);
  return { el, value };
}
