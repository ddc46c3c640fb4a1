// Live kiln chart (vendored uPlot): program setpoint vs PV vs flask core (core only when measured).
import * as api from './api.js';
import { h, show } from './dom.js';
import { clock, toUnit, unitLabel } from './units.js';

const MAX_POINTS = 20000;

/** A colour from the design tokens (tokens.css), read when a chart is built. */
function token(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(`--${name}`).trim();
}

function axis() {
  const grid = token('chart-grid');
  return { stroke: token('chart-axis'), font: '16px system-ui, sans-serif', grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } };
}

function seriesOptions() {
  return [
    {},
    { label: 'Setpoint', stroke: token('chart-sp'), width: 2, dash: [10, 6] },
    { label: 'PV', stroke: token('chart-pv'), width: 3 },
    { label: 'Flask core', stroke: token('chart-core'), width: 2 },
  ];
}

/** A chart in `container` for kiln `name`: load() the recent history, then add() a point per patch. */
export class KilnChart {
  constructor(name) {
    this.name = name;
    this.data = [[], [], [], []];
    this.pending = [];
    this.loaded = false;
    this.plot = null;
    this.coreKey = h('span', { class: 'legend-key legend-core', text: 'Flask core' });
    this.legend = h(
      'div',
      { class: 'chart-legend' },
      h('span', { class: 'legend-key legend-sp', text: 'Setpoint' }),
      h('span', { class: 'legend-key legend-pv', text: 'PV' }),
      this.coreKey,
      h('span', { class: 'legend-unit', text: unitLabel() }),
    );
    this.box = h('div', { class: 'chart', testid: 'kiln-chart' });
    this.el = h('div', { class: 'chart-block' }, this.legend, this.box);
    show(this.coreKey, false);
  }

  hasCore() {
    return this.data[3].some((v) => v != null);
  }

  /** `kinds`: the kiln's temperature kinds (its view's `temperatures`). */
  async load(kinds) {
    this.kinds = kinds;
    if (this.loading) return;
    this.loading = true;
    try {
      const s = await api.kilnSeries(this.name);
      const n = Math.min(s.t.length, s.sp.length, s.pv.length);
      const core = Array.isArray(s.core) ? s.core : [];
      for (let i = 0; i < n; i++) this.push(s.t[i], s.sp[i], s.pv[i], core[i] ?? null);
    } catch {
      // No history: the chart fills from live patches.
    }
    const last = this.data[0].length ? this.data[0][this.data[0].length - 1] : -Infinity;
    for (const p of this.pending) if (p[0] > last) this.push(...p);
    this.pending = [];
    this.loaded = true;
    this.draw();
  }

  push(t, sp, pv, core) {
    const d = this.data;
    d[0].push(t);
    const kinds = this.kinds ?? {};
    d[1].push(toUnit(sp, kinds.setpoint_c));
    d[2].push(toUnit(pv, kinds.pv_c));
    d[3].push(toUnit(core, kinds.flask_core_c));
    if (d[0].length > MAX_POINTS) for (const col of d) col.splice(0, col.length - MAX_POINTS);
  }

  /** A live point from a patch at wall time t. */
  add(t, kiln) {
    this.kinds = kiln.temperatures;
    const point = [t, kiln.setpoint_c, kiln.pv_c, kiln.flask_core_c ?? null];
    if (!this.loaded) {
      this.pending.push(point);
      return;
    }
    this.push(...point);
    this.draw();
  }

  size() {
    return { width: Math.max(200, this.box.clientWidth), height: Math.max(140, this.box.clientHeight) };
  }

  draw() {
    if (!this.box.isConnected) return;
    const core = this.hasCore();
    show(this.coreKey, core);
    if (!this.plot) {
      const opts = {
        ...this.size(),
        series: seriesOptions(),
        legend: { show: false },
        cursor: { show: false, drag: { x: false, y: false } },
        scales: { x: { time: true } },
        axes: [{ ...axis(), values: (u, splits) => splits.map(clock) }, { ...axis(), size: 64 }],
      };
      this.plot = new window.uPlot(opts, this.data, this.box);
      this.resizer = new ResizeObserver(() => this.plot?.setSize(this.size()));
      this.resizer.observe(this.box);
    } else {
      this.plot.setData(this.data);
    }
    if (this.plot.series[3].show !== core) this.plot.setSeries(3, { show: core });
  }

  destroy() {
    this.resizer?.disconnect();
    this.plot?.destroy();
    this.plot = null;
  }
}
