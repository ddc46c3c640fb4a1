// live.js applyPatch: the browser's half of labctl/web/live.py's diff (paths as arrays of keys).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { applyPatch } from '../../../../labctl/web/static/live.js';

test('set writes leaves and reports their dotted paths', () => {
  const state = { kilns: { k1: { pv_c: 20, state: 'idle' } } };
  const changed = applyPatch(state, { set: [[['kilns', 'k1', 'pv_c'], 21.5]], unset: [] });
  assert.deepEqual(state, { kilns: { k1: { pv_c: 21.5, state: 'idle' } } });
  assert.deepEqual([...changed], ['kilns.k1.pv_c']);
});

test('a machine name with dots stays one key', () => {
  const state = { kilns: {} };
  applyPatch(state, { set: [[['kilns', 'kiln.2', 'pv_c'], 30]] });
  assert.deepEqual(state, { kilns: { 'kiln.2': { pv_c: 30 } } });
});

test('unset removes before set adds, so a leaf can become an object', () => {
  const state = { casters: { c1: { waiting_for: 'flask_placed' } }, history: [1] };
  const changed = applyPatch(state, {
    unset: [['casters', 'c1', 'waiting_for']],
    set: [[['casters', 'c1', 'waiting_for', 'step'], 'balance'], [['history'], [2, 3]]],
  });
  assert.deepEqual(state, { casters: { c1: { waiting_for: { step: 'balance' } } }, history: [2, 3] });
  assert.deepEqual([...changed].sort(), ['casters.c1.waiting_for', 'casters.c1.waiting_for.step', 'history']);
});

test('a removed machine goes whole; a missing parent is no error', () => {
  const state = { kilns: { k1: { pv_c: 1 }, k2: { pv_c: 2 } } };
  applyPatch(state, { unset: [['kilns', 'k2'], ['casters', 'gone', 'x']] });
  assert.deepEqual(state, { kilns: { k1: { pv_c: 1 } } });
});

test('a list leaf is replaced, never merged into', () => {
  const state = { kilns: { k1: { actions: ['hold', 'abort'] } } };
  applyPatch(state, { set: [[['kilns', 'k1', 'actions'], ['resume', 'abort']]] });
  assert.deepEqual(state.kilns.k1.actions, ['resume', 'abort']);
});
