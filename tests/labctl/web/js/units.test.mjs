// units.js: temperatures converted by the kind the daemon gives, durations and outcome colours.
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';

import { duration, hmm, outcomeClass, setUnit, stepLabel, temp, tempNumber, tempOf, toUnit, unitLabel } from '../../../../labctl/web/static/units.js';

afterEach(() => setUnit('C'));

test('°C numbers pass through unchanged in a °C lab', () => {
  assert.equal(toUnit(612.3, 'absolute'), 612.3);
  assert.equal(toUnit(15, 'difference'), 15);
  assert.equal(temp(612.34, 'absolute'), '612.3 °C');
});

test('a temperature gets the offset in °F, a difference does not', () => {
  setUnit('F');
  assert.equal(toUnit(100, 'absolute'), 212);
  assert.equal(toUnit(-40, 'absolute'), -40);
  assert.equal(toUnit(10, 'difference'), 18);
  assert.equal(unitLabel(), '°F');
  assert.equal(temp(0, 'absolute'), '32.0 °F');
});

test('an unknown value is a dash, not a number', () => {
  assert.equal(tempNumber(null, 'absolute'), '—');
  assert.equal(tempNumber(Number.NaN, 'absolute'), '—');
  assert.equal(temp(undefined, 'difference'), '—');
});

test('a temperature without a kind is refused, never guessed', () => {
  assert.throws(() => toUnit(600, undefined), TypeError);
  assert.throws(() => toUnit(600, 'celsius'), TypeError);
});

test('tempOf reads the kind from the machine', () => {
  setUnit('F');
  const kiln = { pv_c: 100, rise_c: 10, temperatures: { pv_c: 'absolute', rise_c: 'difference' } };
  assert.equal(tempOf(kiln, 'pv_c'), '212.0 °F');
  assert.equal(tempOf(kiln, 'rise_c'), '18.0 °F');
  assert.throws(() => tempOf({ x_c: 1 }, 'x_c'), TypeError);
});

test('hmm and duration round seconds for people', () => {
  assert.equal(hmm(3900), '1:05');
  assert.equal(hmm(29), '0:00');
  assert.equal(hmm(-60), '0:00');
  assert.equal(hmm(null), '—');
  assert.equal(duration(45.4), '45 s');
  assert.equal(duration(180), '3 min');
  assert.equal(duration(undefined), '—');
});

test('outcome colours follow the outcome kind field', () => {
  assert.equal(outcomeClass('completed'), 'ok');
  assert.equal(outcomeClass('faulted'), 'bad');
  assert.equal(outcomeClass('aborted'), 'warn');
  assert.equal(outcomeClass('interrupted'), 'warn');
  assert.equal(outcomeClass('running'), 'warn');
  assert.equal(outcomeClass(null), '');
});

test('step names read as words', () => {
  assert.equal(stepLabel('vacuum_hold'), 'Vacuum hold');
  assert.equal(stepLabel(null), '—');
});
