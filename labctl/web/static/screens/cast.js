// Start a cast (#/cast/<caster>): which kiln the flask comes from, which flask record, alloy,
// piece class, melt record.
import { button, contactChanged, h, setText } from '../dom.js';
import { PIECE_CLASSES, choiceGroup } from './choices.js';
import { mayCommand, missingScreen, runFrom, signinHint } from './common.js';

/** A kiln whose flask is ready: it takes "flask taken out" now (the daemon's kiln_actions). */
function flaskReady(S, k) {
  return (S.kiln_actions?.[k.state] ?? []).includes('take_flask');
}

export function castScreen(ctx, caster) {
  const machine = ctx.state().casters?.[caster];
  if (!machine) return missingScreen('caster', caster);
  const pick = { kiln: null, flask: '', alloy: null, cls: null, melt: '' };
  let options = null;

  const kilns = choiceGroup('1. Flask from kiln', (v) => chooseKiln(v));
  const flasks = choiceGroup('2. Flask record', (v) => chooseFlask(v));
  const alloys = choiceGroup('3. Alloy', (v) => {
    pick.alloy = v;
    pick.melt = '';
    render();
  });
  const classes = choiceGroup('4. Piece class', (v) => {
    pick.cls = v;
    render();
  });
  const melts = choiceGroup('5. Melt record', (v) => {
    pick.melt = v;
    render();
  });
  const summary = h('p', { class: 'hint casting', testid: 'cast-summary' });
  const submit = button('Start cast', 'cast-submit', () => start(), 'btn btn-primary btn-action');
  const cancel = button('Cancel', 'cast-cancel', () => ctx.navigate(`#/caster/${encodeURIComponent(caster)}`), 'btn btn-action');
  const el = h(
    'section',
    { class: 'screen framed start', testid: 'cast-start' },
    h('h1', { class: 'screen-title', text: `Start a cast on ${caster}` }),
    h('div', { class: 'scroll' }, kilns.el, flasks.el, alloys.el, classes.el, melts.el),
    h('div', { class: 'actions' }, summary, cancel, submit, signinHint(ctx)),
  );

  const usable = () => (options?.alloys ?? []).filter((a) => (a.methods ?? []).includes(machine.kind));

  function chooseKiln(name) {
    pick.kiln = name;
    const k = ctx.state().kilns?.[name];
    if (k?.alloy && usable().some((a) => a.name === k.alloy)) pick.alloy = k.alloy;
    if (k?.piece_class) pick.cls = k.piece_class;
    if (k?.flask_id) pick.flask = k.flask_id;
    render();
  }

  function chooseFlask(id) {
    pick.flask = id;
    const f = (options?.flasks ?? []).find((x) => x.flask_id === id);
    if (f?.alloy && usable().some((a) => a.name === f.alloy)) pick.alloy = f.alloy;
    if (f?.piece_class) pick.cls = f.piece_class;
    render();
  }

  function render() {
    if (!options) return;
    const S = ctx.state();
    kilns.set(
      Object.entries(S.kilns ?? {}).map(([name, k]) => ({
        value: name,
        testid: `cast-kiln-${name}`,
        label: name,
        sub: [flaskReady(S, k) ? 'ready' : k.state, k.flask_id ? `flask ${k.flask_id}` : null].filter(Boolean).join(' · '),
      })),
      pick.kiln,
      'No kilns.',
    );
    const flaskOptions = (options.flasks ?? []).map((f) => ({
      value: f.flask_id,
      testid: `cast-flask-${f.flask_id}`,
      label: `Flask ${f.flask_id}`,
      sub: (f.job_ids ?? []).join(', '),
    }));
    flasks.set([{ value: '', testid: 'cast-flask-none', label: 'No flask record' }, ...flaskOptions], pick.flask);
    alloys.set(usable().map((a) => ({ value: a.name, testid: `cast-alloy-${a.name}`, label: a.title || a.name })), pick.alloy, `No alloy is set up for ${machine.kind} casting.`);
    classes.set(PIECE_CLASSES.map((c) => ({ ...c, testid: `cast-class-${c.value}` })), pick.cls);
    const meltOptions = options.melts
      .filter((m) => !pick.alloy || m.alloy === pick.alloy)
      .map((m) => ({ value: m.melt_id, testid: `cast-melt-${m.melt_id}`, label: `Melt ${m.melt_id}` }));
    melts.set([{ value: '', testid: 'cast-melt-none', label: 'No melt record' }, ...meltOptions], pick.melt);
    setText(summary, pick.flask ? `Flask ${pick.flask}` : '');
    submit.disabled = !mayCommand(ctx) || !pick.kiln || !pick.alloy || !pick.cls;
  }

  async function start() {
    const payload = { caster, alloy: pick.alloy, piece_class: pick.cls, kiln: pick.kiln };
    if (pick.flask) payload.flask_id = pick.flask;
    if (pick.melt) payload.melt_id = pick.melt;
    const result = await runFrom(submit, ctx, 'cast_start', payload);
    if (result) ctx.navigate(`#/caster/${encodeURIComponent(caster)}`);
    else render();
  }

  async function load() {
    const result = await ctx.run('start_options', {});
    if (!result) return;
    options = { alloys: [], flasks: [], melts: [], ...result };
    const S = ctx.state();
    const ready = Object.entries(S.kilns ?? {}).filter(([, k]) => flaskReady(S, k));
    if (ready.length === 1) chooseKiln(ready[0][0]);
    else render();
  }
  submit.disabled = true;
  load();

  return {
    el,
    update(S, paths) {
      if (paths !== null && contactChanged(paths)) render(); // Start needs contact
    },
    destroy() {},
  };
}
