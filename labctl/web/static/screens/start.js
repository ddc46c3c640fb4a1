// Start a burnout (#/start/<kiln>): flask, alloy, piece class, burnout profile; the casting (final
// hold) temperature follows from the alloy and the piece class.
import { button, contactChanged, h, setText } from '../dom.js';
import { temp } from '../units.js';
import { PIECE_CLASSES, choiceGroup } from './choices.js';
import { mayCommand, missingScreen, runFrom, signinHint } from './common.js';

const NONE = '';

export function startScreen(ctx, kiln) {
  if (!ctx.state().kilns?.[kiln]) return missingScreen('kiln', kiln);
  const pick = { flask: null, alloy: null, cls: null, profile: null, coolFirst: false };
  let options = null;

  const flasks = choiceGroup('1. Flask', (v) => chooseFlask(v));
  const alloys = choiceGroup('2. Alloy', (v) => chooseAlloy(v));
  const classes = choiceGroup('3. Piece class', (v) => {
    pick.cls = v;
    render();
  });
  const profiles = choiceGroup('4. Burnout profile', (v) => {
    pick.profile = v;
    render();
  });
  // a kiln hotter than the first segment's target is refused, or cools to it with the heat off
  const hot = choiceGroup('5. If the kiln is too hot for the first segment', (v) => {
    pick.coolFirst = v === 'cool';
    render();
  });
  const program = h('p', { class: 'hint program-text', testid: 'start-program' });
  const castingTemp = h('span', { class: 'casting-temp', testid: 'start-casting-temp' });
  const submit = button('Start burnout', 'start-submit', () => start(), 'btn btn-primary btn-action');
  const cancel = button('Cancel', 'start-cancel', () => ctx.navigate(`#/kiln/${encodeURIComponent(kiln)}`), 'btn btn-action');
  const loading = h('p', { class: 'hint', text: 'Loading flasks, alloys and profiles…' });

  const el = h(
    'section',
    { class: 'screen framed start', testid: 'start' },
    h('h1', { class: 'screen-title', text: `Start a burnout in ${kiln}` }),
    h('div', { class: 'scroll' }, loading, flasks.el, alloys.el, classes.el, profiles.el, program, hot.el),
    h(
      'div',
      { class: 'actions actions-start' },
      h('div', { class: 'casting' }, h('span', { class: 'label', text: 'Casting temperature' }), castingTemp),
      cancel,
      submit,
      signinHint(ctx),
    ),
  );

  const alloyOf = (name) => options?.alloys.find((a) => a.name === name) ?? null;

  function allowedProfiles() {
    const alloy = alloyOf(pick.alloy);
    if (!alloy) return [];
    return alloy.burnout_profiles.map((n) => options.profiles.find((p) => p.name === n)).filter(Boolean);
  }

  function chooseFlask(value) {
    pick.flask = value;
    const flask = options.flasks.find((f) => f.flask_id === value);
    if (flask?.alloy && alloyOf(flask.alloy)) pick.alloy = flask.alloy;
    if (flask?.piece_class) pick.cls = flask.piece_class;
    chooseAlloy(pick.alloy);
  }

  function chooseAlloy(value) {
    pick.alloy = value;
    const allowed = allowedProfiles();
    if (!allowed.some((p) => p.name === pick.profile)) pick.profile = allowed.length === 1 ? allowed[0].name : null;
    render();
  }

  function render() {
    if (!options) return;
    loading.hidden = true;
    const flaskOptions = options.flasks.length
      ? options.flasks.map((f) => ({
          value: f.flask_id,
          testid: `flask-${f.flask_id}`,
          label: `Flask ${f.flask_id}`,
          sub: [f.job_ids.length ? `jobs ${f.job_ids.join(', ')}` : 'no jobs', f.alloy].filter(Boolean).join(' · '),
        }))
      : [{ value: NONE, testid: 'flask-none', label: 'No flask record' }];
    flasks.set(flaskOptions, pick.flask);
    alloys.set(
      options.alloys.map((a) => ({ value: a.name, testid: `alloy-${a.name}`, label: a.title || a.name })),
      pick.alloy,
      'No alloys configured.',
    );
    classes.set(PIECE_CLASSES.map((c) => ({ ...c, testid: `class-${c.value}` })), pick.cls);
    profiles.set(
      allowedProfiles().map((p) => ({ value: p.name, testid: `profile-${p.name}`, label: p.title || p.name, sub: `${p.segments.length} segments` })),
      pick.profile,
      pick.alloy ? 'This alloy allows no burnout profile.' : 'Choose the alloy first.',
    );
    hot.set(
      [
        { value: 'refuse', testid: 'start-hot-refuse', label: 'Do not start', sub: 'let it cool first' },
        { value: 'cool', testid: 'start-hot-cool', label: 'Cool first', sub: 'heat off to the first target, then start' },
      ],
      pick.coolFirst ? 'cool' : 'refuse',
    );
    const profile = options.profiles.find((p) => p.name === pick.profile);
    setText(program, profile ? profile.segments.join(' → ') : '');
    const alloy = alloyOf(pick.alloy);
    setText(castingTemp, alloy && pick.cls ? temp(alloy.flask_c[pick.cls], 'absolute') /* a flask casting temperature */ : '—');
    submit.disabled = !mayCommand(ctx) || pick.flask === null || !pick.alloy || !pick.cls || !pick.profile;
  }

  async function start() {
    const payload = { kiln, profile: pick.profile, alloy: pick.alloy, piece_class: pick.cls };
    if (pick.flask) payload.flask_id = pick.flask;
    if (pick.coolFirst) payload.cool_first = true;
    const result = await runFrom(submit, ctx, 'start', payload);
    if (result) ctx.navigate(`#/kiln/${encodeURIComponent(kiln)}`);
    else render();
  }

  async function load() {
    options = await ctx.run('start_options', {});
    if (!options) {
      setText(loading, 'Could not load the start options.');
      return;
    }
    options = { profiles: [], alloys: [], flasks: [], melts: [], ...options };
    if (!options.flasks.length) pick.flask = NONE;
    render();
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
