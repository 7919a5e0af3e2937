/** A time series chart (uPlot): one line per series, x in epoch milliseconds; redrawn in place on new data. */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

export interface Series {
  label: string;
  /** Sorted by t. */
  points: ReadonlyArray<{ t: number; value: number }>;
}

const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777'];

/** Aligns series on one x axis (the union of their times), as uPlot wants. */
export function align(series: readonly Series[]): uPlot.AlignedData {
  const times = [...new Set(series.flatMap((s) => s.points.map((p) => p.t)))].sort((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  const columns = series.map((s) => {
    const column: Array<number | null> = new Array(times.length).fill(null);
    for (const p of s.points) column[index.get(p.t)!] = p.value;
    return column;
  });
  return [times.map((t) => t / 1000), ...columns] as uPlot.AlignedData;
}

export function Chart({ series, height = 240, title }: { series: readonly Series[]; height?: number; title?: string }) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  const shape = series.map((s) => s.label).join('\u0000');

  useEffect(() => {
    const element = host.current!;
    const options: uPlot.Options = {
      ...(title ? { title } : {}),
      width: Math.max(320, element.clientWidth),
      height,
      series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: COLORS[i % COLORS.length]!, width: 1.5, spanGaps: true, points: { show: false } }))],
      axes: [{}, { size: 60 }],
      legend: { live: false },
    };
    plot.current = new uPlot(options, align(series), element);
    const resize = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(320, element.clientWidth), height }));
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = undefined;
    };
  }, [shape, height, title]);

  useEffect(() => {
    plot.current?.setData(align(series));
  }, [series]);

  const points = series.reduce((n, s) => n + s.points.length, 0);
  return <div class="chart" ref={host} data-points={points} />;
}
