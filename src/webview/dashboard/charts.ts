// SVG charts drawn for the dashboard: time-series lines, stacked bars per time bucket, and the
// agent timeline. Colours come from CSS classes bound to VS Code's chart theme colours.
import type { AttemptInterval } from '../../core/metrics/types';
import { formatDuration } from '../../core/report/format';
import { s } from './dom';

export interface Frame {
  width: number;
  height: number;
  /** Visible time range, epoch ms. */
  from: number;
  to: number;
}

const MARGIN = { left: 48, right: 8, top: 8, bottom: 20 };
export const SERIES_CLASSES = 6;

export interface LineSeries {
  name: string;
  /** CSS class giving the stroke colour, e.g. `series-0`. */
  colour: string;
  points: { t: number; v: number }[];
}

function clockLabel(t: number): string {
  return new Date(t).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
}

function axes(frame: Frame, yMax: number, formatY: (value: number) => string): SVGGElement {
  const bottom = frame.height - MARGIN.bottom;
  const group = s('g', { class: 'axes' });
  for (const fraction of [0, 0.5, 1]) {
    const y = bottom - fraction * (bottom - MARGIN.top);
    group.append(
      s('line', { class: 'grid', x1: MARGIN.left, x2: frame.width - MARGIN.right, y1: y, y2: y }),
      s('text', { class: 'tick', x: MARGIN.left - 4, y: y + 4, 'text-anchor': 'end' }, formatY(yMax * fraction)),
    );
  }
  group.append(
    s('text', { class: 'tick', x: MARGIN.left, y: frame.height - 4 }, clockLabel(frame.from)),
    s('text', { class: 'tick', x: frame.width - MARGIN.right, y: frame.height - 4, 'text-anchor': 'end' }, clockLabel(frame.to)),
  );
  return group;
}

function xScale(frame: Frame): (t: number) => number {
  const span = Math.max(1, frame.to - frame.from);
  const width = frame.width - MARGIN.left - MARGIN.right;
  return (t) => MARGIN.left + ((t - frame.from) / span) * width;
}

function yScale(frame: Frame, yMax: number): (v: number) => number {
  const bottom = frame.height - MARGIN.bottom;
  return (v) => bottom - (Math.min(v, yMax) / yMax) * (bottom - MARGIN.top);
}

/** A nice upper bound for the y axis: 1, 2 or 5 times a power of ten. */
export function niceMax(value: number, minimum = 1): number {
  const target = Math.max(value, minimum);
  const power = 10 ** Math.floor(Math.log10(target));
  for (const step of [1, 2, 5, 10]) if (step * power >= target) return step * power;
  return 10 * power;
}

export function lineChart(frame: Frame, series: LineSeries[], formatY: (value: number) => string, label: string, minimumMax = 1): SVGSVGElement {
  const visible = series.map((line) => ({ ...line, points: line.points.filter((point) => point.t >= frame.from && point.t <= frame.to) }));
  const yMax = niceMax(Math.max(0, ...visible.flatMap((line) => line.points.map((point) => point.v))), minimumMax);
  const x = xScale(frame);
  const y = yScale(frame, yMax);
  const svg = chartRoot(frame, label);
  svg.append(axes(frame, yMax, formatY));
  for (const line of visible) {
    if (line.points.length === 0) continue;
    const points = line.points.length > frame.width ? downsample(line.points, x) : line.points;
    const d = points.map((point, i) => `${i === 0 ? 'M' : 'L'}${x(point.t).toFixed(1)},${y(point.v).toFixed(1)}`).join('');
    svg.append(s('path', { class: `line ${line.colour}`, d }, s('title', {}, line.name)));
    if (line.points.length === 1) {
      const only = line.points[0];
      svg.append(s('circle', { class: `dot ${line.colour}`, cx: x(only.t), cy: y(only.v), r: 2.5 }));
    }
  }
  return svg;
}

export interface Bucket {
  t: number;
  done: number;
  failed: number;
}

export function bucketChart(frame: Frame, buckets: Bucket[], bucketMs: number, label: string): SVGSVGElement {
  const visible = buckets.filter((bucket) => bucket.t + bucketMs > frame.from && bucket.t <= frame.to);
  const yMax = niceMax(Math.max(0, ...visible.map((bucket) => bucket.done + bucket.failed)));
  const x = xScale(frame);
  const y = yScale(frame, yMax);
  const svg = chartRoot(frame, label);
  svg.append(axes(frame, yMax, formatCount));
  const bottom = frame.height - MARGIN.bottom;
  for (const bucket of visible) {
    const left = Math.max(MARGIN.left, x(bucket.t));
    const right = Math.min(frame.width - MARGIN.right, x(bucket.t + bucketMs));
    const width = Math.max(1, (right - left) * 0.85);
    const doneTop = y(bucket.done);
    const failedTop = y(bucket.done + bucket.failed);
    const title = `${clockLabel(bucket.t)}: ${bucket.done} done, ${bucket.failed} failed`;
    svg.append(
      s(
        'g',
        {},
        s('title', {}, title),
        s('rect', { class: 'bar done', x: left.toFixed(1), y: doneTop.toFixed(1), width: width.toFixed(1), height: (bottom - doneTop).toFixed(1) }),
        s('rect', { class: 'bar failed', x: left.toFixed(1), y: failedTop.toFixed(1), width: width.toFixed(1), height: (doneTop - failedTop).toFixed(1) }),
      ),
    );
  }
  return svg;
}

const LANE_HEIGHT = 20;
const LANE_LABEL_WIDTH = 110;

/** One lane per agent, one bar per attempt; overlapping bars across lanes are the parallelism. */
export function timelineChart(frame: Omit<Frame, 'height'>, intervals: AttemptInterval[], now: number, label: string): SVGSVGElement {
  const shown = intervals.filter((bar) => (bar.end ?? now) >= frame.from && bar.start <= frame.to);
  const agents = [...new Set(shown.map((bar) => bar.agent))].sort();
  const height = Math.max(1, agents.length) * LANE_HEIGHT + MARGIN.bottom + MARGIN.top;
  const full: Frame = { ...frame, height };
  const svg = chartRoot(full, label);
  const span = Math.max(1, frame.to - frame.from);
  const plotWidth = frame.width - LANE_LABEL_WIDTH - MARGIN.right;
  const x = (t: number): number => LANE_LABEL_WIDTH + ((Math.min(Math.max(t, frame.from), frame.to) - frame.from) / span) * plotWidth;
  agents.forEach((agent, lane) => {
    const top = MARGIN.top + lane * LANE_HEIGHT;
    svg.append(
      s('line', { class: 'grid', x1: LANE_LABEL_WIDTH, x2: frame.width - MARGIN.right, y1: top + LANE_HEIGHT - 1, y2: top + LANE_HEIGHT - 1 }),
      s('text', { class: 'lane-label', x: LANE_LABEL_WIDTH - 6, y: top + LANE_HEIGHT / 2 + 4, 'text-anchor': 'end' }, truncate(agent, 16)),
    );
  });
  const tracks = laneTracks(shown, now);
  shown.forEach((bar, index) => {
    const lane = agents.indexOf(bar.agent);
    // The tasks of a batch run at once on one agent: each gets its own slice of the lane.
    const { track, of } = tracks[index];
    const barHeight = (LANE_HEIGHT - 7) / of;
    const top = MARGIN.top + lane * LANE_HEIGHT + 3 + track * barHeight;
    const left = x(bar.start);
    const width = Math.max(2, x(bar.end ?? now) - left);
    const duration = formatDuration((bar.end ?? now) - bar.start);
    const title = `${bar.title} (${bar.taskId}), attempt ${bar.attempt}: ${bar.outcome}, ${duration}${of > 1 ? ' (in a batch with the bars beside it)' : ''}`;
    svg.append(s('rect', { class: `attempt outcome-${bar.outcome}`, x: left.toFixed(1), y: top.toFixed(1), width: width.toFixed(1), height: Math.max(1, barHeight - (of > 1 ? 1 : 0)).toFixed(1), rx: 2 }, s('title', {}, title)));
  });
  svg.append(
    s('text', { class: 'tick', x: LANE_LABEL_WIDTH, y: height - 4 }, clockLabel(frame.from)),
    s('text', { class: 'tick', x: frame.width - MARGIN.right, y: height - 4, 'text-anchor': 'end' }, clockLabel(frame.to)),
  );
  return svg;
}

/**
 * For each bar (by index), its track within its agent's lane and how many tracks that lane needs:
 * bars that overlap in time on one agent (the tasks of a batch) go on separate tracks, so every one
 * of them shows instead of the last drawn covering the others. A lane without overlaps has one.
 */
export function laneTracks(bars: readonly AttemptInterval[], now: number): Array<{ track: number; of: number }> {
  const result: Array<{ track: number; of: number }> = bars.map(() => ({ track: 0, of: 1 }));
  const byAgent = new Map<string, number[]>();
  bars.forEach((bar, index) => byAgent.set(bar.agent, [...(byAgent.get(bar.agent) ?? []), index]));
  for (const indexes of byAgent.values()) {
    const ends: number[] = [];
    for (const index of [...indexes].sort((a, b) => bars[a].start - bars[b].start)) {
      const bar = bars[index];
      let track = ends.findIndex((end) => end <= bar.start);
      if (track === -1) track = ends.push(0) - 1;
      ends[track] = bar.end ?? now;
      result[index].track = track;
    }
    for (const index of indexes) result[index].of = Math.max(1, ends.length);
  }
  return result;
}

/**
 * At most two points per pixel column (its lowest and highest, in time order), so an hour of
 * one-second samples draws as fast as a minute and a one-sample peak still shows.
 */
function downsample(points: { t: number; v: number }[], x: (t: number) => number): { t: number; v: number }[] {
  const result: { t: number; v: number }[] = [];
  let column = Number.NaN;
  let low = points[0];
  let high = points[0];
  const flush = (): void => {
    if (Number.isNaN(column)) return;
    if (low === high) result.push(low);
    else result.push(...(low.t <= high.t ? [low, high] : [high, low]));
  };
  for (const point of points) {
    const pixel = Math.round(x(point.t));
    if (pixel !== column) {
      flush();
      column = pixel;
      low = high = point;
    } else {
      if (point.v < low.v) low = point;
      if (point.v > high.v) high = point;
    }
  }
  flush();
  return result;
}

function chartRoot(frame: Frame, label: string): SVGSVGElement {
  return s('svg', { class: 'chart', role: 'img', 'aria-label': label, width: frame.width, height: frame.height, viewBox: `0 0 ${frame.width} ${frame.height}` });
}

/** Counts on an axis: whole numbers as they are, a half step with one decimal. */
export function formatCount(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

function truncate(text: string, length: number): string {
  return text.length <= length ? text : `${text.slice(0, length - 1)}…`;
}
