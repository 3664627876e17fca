// Charts with Apache ECharts, loaded only by the views that draw one (a chunk of its own), and
// only the chart types and components used here, so the first load stays small.
import { useEffect, useRef } from 'preact/hooks';

type ECharts = { setOption: (o: unknown, notMerge?: boolean) => void; resize: () => void; dispose: () => void };

let loading: Promise<(el: HTMLElement) => ECharts> | null = null;

function loadECharts() {
  loading ??= import('./echarts_setup').then((m) => (el: HTMLElement) => m.init(el) as unknown as ECharts);
  return loading;
}

// One chart: `option` is ECharts' own option object, set again whenever it changes.
export function Chart({ option, height = 260, label }: { option: unknown; height?: number; label: string }) {
  const element = useRef<HTMLDivElement>(null);
  const chart = useRef<ECharts | null>(null);
  useEffect(() => {
    let disposed = false;
    const onResize = () => chart.current?.resize();
    loadECharts().then((init) => {
      if (disposed || !element.current) return;
      chart.current = init(element.current);
      chart.current.setOption(option, true);
      window.addEventListener('resize', onResize);
    });
    return () => {
      disposed = true;
      window.removeEventListener('resize', onResize);
      chart.current?.dispose();
      chart.current = null;
    };
  }, []);
  useEffect(() => {
    chart.current?.setOption(option, true);
  }, [option]);
  return <div ref={element} class="chart" style={{ height: `${height}px` }} role="img" aria-label={label} />;
}

export const palette = ['#2563eb', '#16a34a', '#dc2626', '#d97706', '#7c3aed', '#0891b2'];
