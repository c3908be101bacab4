// The charts of `mqstore sweep`, as Vega specifications rendered to SVG strings in Node with
// no browser: `new vega.View(vega.parse(spec), { renderer: 'none' }).toSVG()`. Without the
// optional `canvas` package Vega estimates text widths from the font size, so nothing here needs
// a native build; for the same reason no mark uses Vega's `label` transform, which rasterises
// marks on a canvas. Point labels are short numbers (#1, #2, …) and a key beside the plot
// spells out each configuration, so crowded points cannot hide a configuration's name.

import type { Spec } from 'vega';
import type { LatencySummaryMs } from './latency.js';
import type { Slo } from './sweep_grid.js';

export interface ChartPoint {
  /** 1-based, as in the results table. */
  index: number;
  label: string;
  flushDiskType: string;
  msgsPerSec: number;
  latencyMs: LatencySummaryMs;
  recommended: boolean;
}

export interface ChartContext {
  title: string;
  subtitle: string;
  slo: Slo | null;
}

const SCHEMA = 'https://vega.github.io/schema/vega/v6.json';
const FLUSH_COLORS = { domain: ['ASYNC_FLUSH', 'SYNC_FLUSH'], range: ['#4c78a8', '#e45756'] };
/** Latencies are drawn on log axes, which cannot show 0 (a run without samples). */
const LATENCY_FLOOR_MS = 0.001;
/** Above this max/min ratio of p99s the throughput chart's x axis is logarithmic. */
const LOG_RANGE_RATIO = 20;
const KEY_ROW_PX = 15;
const ROW_PX = 30;
const SLO_TEXT = { text: { field: 'text' }, fill: { value: '#d62728' }, fontSize: { value: 10 } };
const PERCENTILES: readonly { key: keyof LatencySummaryMs; name: string }[] = [
  { key: 'p50', name: 'p50' },
  { key: 'p95', name: 'p95' },
  { key: 'p99', name: 'p99' },
  { key: 'p999', name: 'p99.9' },
  { key: 'max', name: 'max' },
];

function floorMs(ms: number): number {
  return Math.max(LATENCY_FLOOR_MS, ms);
}

function keyText(point: ChartPoint): string {
  return `#${point.index} ${point.label}${point.recommended ? '  (recommended)' : ''}`;
}

function sloText(slo: Slo): string {
  return `objective ${slo.metric === 'p999' ? 'p99.9' : slo.metric} ${slo.inclusive ? '≤' : '<'} ${slo.thresholdMs} ms`;
}

/** Scatter: x = p99 latency (log when the range is wide), y = msgs/s; one numbered point each. */
export function throughputSpec(points: readonly ChartPoint[], context: ChartContext): Spec {
  const p99s = points.map((p) => floorMs(p.latencyMs.p99));
  const log = p99s.length > 1 && Math.max(...p99s) / Math.min(...p99s) >= LOG_RANGE_RATIO;
  const values = points.map((p, row) => ({
    row,
    n: `#${p.index}`,
    key: keyText(p),
    x: floorMs(p.latencyMs.p99),
    y: p.msgsPerSec,
    type: p.flushDiskType,
    recommended: p.recommended,
  }));
  const slo = context.slo !== null && context.slo.metric === 'p99' ? [{ x: context.slo.thresholdMs, text: sloText(context.slo) }] : [];
  const x = { scale: 'x', field: 'x' };
  const y = { scale: 'y', field: 'y' };
  return {
    $schema: SCHEMA,
    width: 480,
    height: 300,
    padding: 10,
    autosize: 'pad',
    background: 'white',
    title: { text: context.title, subtitle: context.subtitle, anchor: 'start', offset: 12 },
    data: [
      { name: 'points', values },
      { name: 'slo', values: slo },
    ],
    scales: [
      {
        name: 'x',
        type: log ? 'log' : 'linear',
        domain: { fields: [{ data: 'points', field: 'x' }, { data: 'slo', field: 'x' }] },
        range: 'width',
        nice: true,
        zero: false,
        padding: 12,
      },
      { name: 'y', type: 'linear', domain: { data: 'points', field: 'y' }, range: 'height', nice: true, zero: true },
      { name: 'color', type: 'ordinal', ...FLUSH_COLORS },
    ],
    axes: [
      { orient: 'bottom', scale: 'x', grid: true, title: `p99 send latency, ms${log ? ' (log scale)' : ''}`, format: '~g' },
      { orient: 'left', scale: 'y', grid: true, title: 'messages per second', format: '~s' },
    ],
    marks: [
      {
        type: 'rule',
        from: { data: 'slo' },
        encode: { enter: { x, y: { value: 0 }, y2: { signal: 'height' }, stroke: { value: '#d62728' }, strokeDash: { value: [5, 3] } } },
      },
      {
        type: 'text',
        from: { data: 'slo' },
        encode: {
          enter: { x: { ...x, offset: -4 }, y: { value: 2 }, align: { value: 'right' }, baseline: { value: 'top' }, ...SLO_TEXT },
        },
      },
      {
        type: 'symbol',
        from: { data: 'points' },
        encode: {
          enter: {
            x,
            y,
            size: { signal: 'datum.recommended ? 180 : 70' },
            fill: { scale: 'color', field: 'type' },
            stroke: { signal: "datum.recommended ? '#000' : 'white'" },
            strokeWidth: { signal: 'datum.recommended ? 2 : 1' },
          },
        },
      },
      {
        type: 'text',
        from: { data: 'points' },
        encode: { enter: { x: { ...x, offset: 7 }, y: { ...y, offset: -6 }, text: { field: 'n' }, fontSize: { value: 11 }, fill: { value: '#333' } } },
      },
      {
        type: 'text',
        from: { data: 'points' },
        encode: {
          enter: {
            x: { signal: 'width + 40' },
            y: { signal: `datum.row * ${KEY_ROW_PX}` },
            baseline: { value: 'top' },
            text: { field: 'key' },
            fontSize: { value: 11 },
            fontWeight: { signal: "datum.recommended ? 'bold' : 'normal'" },
            fill: { scale: 'color', field: 'type' },
          },
        },
      },
    ],
  } as Spec;
}

/** Per configuration (one row each): p50, p95, p99, p99.9 and max on a log axis. */
export function percentilesSpec(points: readonly ChartPoint[], context: ChartContext): Spec {
  const rows = points.map((p) => ({ key: keyText(p), low: floorMs(p.latencyMs.p50), high: floorMs(p.latencyMs.max) }));
  const dots = points.flatMap((p) => PERCENTILES.map(({ key, name }) => ({ key: keyText(p), percentile: name, ms: floorMs(p.latencyMs[key]) })));
  const slo = context.slo === null ? [] : [{ x: context.slo.thresholdMs, text: sloText(context.slo) }];
  return {
    $schema: SCHEMA,
    width: 420,
    height: Math.max(60, points.length * ROW_PX),
    padding: 10,
    autosize: 'pad',
    background: 'white',
    title: { text: context.title, subtitle: context.subtitle, anchor: 'start', offset: 12 },
    data: [
      { name: 'rows', values: rows },
      { name: 'dots', values: dots },
      { name: 'slo', values: slo },
    ],
    scales: [
      { name: 'y', type: 'band', domain: { data: 'rows', field: 'key' }, range: 'height', padding: 0.3 },
      {
        name: 'x',
        type: 'log',
        domain: { fields: [{ data: 'dots', field: 'ms' }, { data: 'slo', field: 'x' }] },
        range: 'width',
        nice: true,
      },
      { name: 'color', type: 'ordinal', domain: PERCENTILES.map((p) => p.name), range: ['#9ecae9', '#4c78a8', '#f58518', '#e45756', '#54a24b'] },
    ],
    axes: [
      { orient: 'bottom', scale: 'x', grid: true, title: 'send latency, ms (log scale)', format: '~g' },
      { orient: 'left', scale: 'y', labelLimit: 2000, labelFontSize: 11, ticks: false, domain: false },
    ],
    legends: [{ fill: 'color', title: 'percentile', orient: 'right', symbolType: 'circle' }],
    marks: [
      {
        type: 'rule',
        from: { data: 'rows' },
        encode: {
          enter: {
            x: { scale: 'x', field: 'low' },
            x2: { scale: 'x', field: 'high' },
            y: { scale: 'y', field: 'key', band: 0.5 },
            stroke: { value: '#bbb' },
            strokeWidth: { value: 2 },
          },
        },
      },
      {
        type: 'rule',
        from: { data: 'slo' },
        encode: { enter: { x: { scale: 'x', field: 'x' }, y: { value: 0 }, y2: { signal: 'height' }, stroke: { value: '#d62728' }, strokeDash: { value: [5, 3] } } },
      },
      {
        type: 'text',
        from: { data: 'slo' },
        encode: {
          enter: { x: { scale: 'x', field: 'x' }, y: { value: -4 }, align: { value: 'center' }, baseline: { value: 'bottom' }, ...SLO_TEXT },
        },
      },
      {
        type: 'symbol',
        from: { data: 'dots' },
        encode: {
          enter: {
            x: { scale: 'x', field: 'ms' },
            y: { scale: 'y', field: 'key', band: 0.5 },
            fill: { scale: 'color', field: 'percentile' },
            size: { value: 60 },
            stroke: { value: 'white' },
          },
        },
      },
    ],
  } as Spec;
}

/** Renders a spec to an SVG document (Vega is loaded on first use: the other commands skip it). */
export async function renderSvg(spec: Spec): Promise<string> {
  const vega = await import('vega');
  const view = new vega.View(vega.parse(spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
