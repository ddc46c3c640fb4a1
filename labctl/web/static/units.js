// Display units and formatting. The API's temperatures are numbers in °C, each machine saying
// per field whether it is a temperature ("absolute") or a difference ("difference") in its
// `temperatures`; times are wall-clock seconds. Its texts (segments, outcomes, alarms,
// refusals) come already in the lab's unit, written by the daemon (labctl/units.py), so nothing
// here rewrites a sentence. Pure: no DOM, so `node --test` covers it (static/tests/).

let unit = 'C';
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

export function setUnit(u) {
  unit = u === 'F' ? 'F' : 'C';
}

export function unitLabel() {
  return unit === 'F' ? '°F' : '°C';
}

/**
 * °C from the API to the display unit (null stays null). kind: "absolute" (a temperature,
 * x * 9/5 + 32 in °F) or "difference" (a rise, a band: x * 9/5); anything else is an error.
 */
export function toUnit(c, kind) {
  if (kind !== 'absolute' && kind !== 'difference') throw new TypeError(`temperature kind ${kind} is neither absolute nor difference`);
  if (c == null || !Number.isFinite(c)) return null;
  if (unit !== 'F') return c;
  return kind === 'absolute' ? (c * 9) / 5 + 32 : (c * 9) / 5;
}

/** The number only, one decimal ("612.3"), or an em dash when unknown. */
export function tempNumber(c, kind) {
  const v = toUnit(c, kind);
  return v == null ? '—' : v.toFixed(1);
}

/** Number and unit ("612.3 °C"). */
export function temp(c, kind) {
  const v = tempNumber(c, kind);
  return v === '—' ? v : `${v} ${unitLabel()}`;
}

/** Field `field` of machine `m` with its unit, converted as the kind the daemon gave it. */
export function tempOf(m, field) {
  return temp(m[field], m.temperatures?.[field]);
}

/** Field `field` of machine `m`, the number only. */
export function tempNumberOf(m, field) {
  return tempNumber(m[field], m.temperatures?.[field]);
}

function pad2(n) {
  return String(n).padStart(2, '0');
}

/** Seconds as h:mm ("1:05"). */
export function hmm(s) {
  if (s == null || !Number.isFinite(s)) return '—';
  const total = Math.max(0, Math.round(s / 60));
  return `${Math.floor(total / 60)}:${pad2(total % 60)}`;
}

/** A short duration for people ("45 s", "3 min"). */
export function duration(s) {
  if (s == null || !Number.isFinite(s)) return '—';
  return s < 60 ? `${Math.max(0, Math.round(s))} s` : `${Math.round(s / 60)} min`;
}

/** Wall seconds to local "HH:MM". */
export function clock(wall) {
  if (wall == null) return '—';
  const d = new Date(wall * 1000);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
}

/** Wall seconds to local "HH:MM:SS". */
export function clockSeconds(wall) {
  if (wall == null) return '—';
  return `${clock(wall)}:${pad2(new Date(wall * 1000).getSeconds())}`;
}

/** Wall seconds to local "24 Nov 09:33". */
export function dateTime(wall) {
  if (wall == null) return '—';
  const d = new Date(wall * 1000);
  return `${d.getDate()} ${MONTHS[d.getMonth()]} ${clock(wall)}`;
}

const OUTCOME_CLASS = { completed: 'ok', faulted: 'bad' };

/**
 * The colour class of a run's outcome kind (the daemon's `outcome_kind` field): ok (completed),
 * bad (faulted), warn (aborted, interrupted, still running), none without one.
 */
export function outcomeClass(kind) {
  if (!kind) return '';
  return OUTCOME_CLASS[kind] ?? 'warn';
}

const KILN_STATES = {
  idle: 'Idle',
  running: 'Running',
  held: 'Held',
  final_hold: 'Final hold',
  ended: 'Ended',
};

export function kilnStateLabel(state) {
  return KILN_STATES[state] ?? String(state ?? '—');
}

/** A step name for people ("vacuum_hold" → "Vacuum hold"). */
export function stepLabel(step) {
  if (!step) return '—';
  const text = String(step).replaceAll('_', ' ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}
