// A row of big choice buttons (one selected), used by the start and cast forms.
import { button, h } from '../dom.js';

/**
 * title: heading; onPick(value) when tapped. set(options, selected) redraws; options are
 * {value, testid, label, sub?} (sub: a second line, e.g. the jobs in a flask).
 */
export function choiceGroup(title, onPick) {
  const row = h('div', { class: 'choices' });
  const empty = h('p', { class: 'hint' });
  const el = h('fieldset', { class: 'choice-group' }, h('legend', { class: 'section-title', text: title }), row, empty);
  return {
    el,
    set(options, selected, emptyText = '') {
      empty.textContent = options.length ? '' : emptyText;
      empty.hidden = options.length > 0;
      row.replaceChildren(
        ...options.map((o) => {
          const b = button('', o.testid, () => onPick(o.value), 'btn choice');
          b.append(h('span', { class: 'choice-label', text: o.label }));
          if (o.sub) b.append(h('span', { class: 'choice-sub', text: o.sub }));
          b.setAttribute('aria-pressed', String(o.value === selected));
          return b;
        }),
      );
    },
  };
}

export const PIECE_CLASSES = [
  { value: 'thin', label: 'Thin / filigree' },
  { value: 'medium', label: 'Medium' },
  { value: 'heavy', label: 'Heavy' },
];
