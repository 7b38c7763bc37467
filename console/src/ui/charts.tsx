// Charts on Chart.js (only the pieces used are registered, so the rest is left out of the bundle). A canvas says
// nothing to a screen reader: every chart has a label and its numbers in a table right below it (collapsed).
import {
  ArcElement,
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  type ChartConfiguration,
  DoughnutController,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from "chart.js";
import { useEffect, useId, useRef } from "preact/hooks";
import { TableWrap } from "./components";

Chart.register(
  ArcElement,
  BarController,
  BarElement,
  CategoryScale,
  DoughnutController,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
);

/** Colours with at least 3:1 contrast against white (WCAG non-text contrast), told apart by more than hue. */
export const PALETTE = ["#1d4ed8", "#b45309", "#047857", "#7c3aed", "#be123c", "#0e7490", "#4d7c0f", "#6b7280"];

export interface Series {
  label: string;
  values: number[];
}

function useChart(config: () => ChartConfiguration, deps: unknown[]) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (!canvas.current) return undefined;
    const chart = new Chart(canvas.current, config());
    return () => chart.destroy();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  return canvas;
}

/** The value axis in the same format as the table (e.g. money from minor units), when one is given. */
function axisFormat(format?: (n: number) => string) {
  return format ? { callback: (value: string | number) => format(Number(value)) } : {};
}

function DataTable(props: { caption: string; labels: string[]; series: Series[]; format?: (n: number) => string }) {
  const format = props.format ?? ((n: number) => n.toLocaleString());
  return (
    <details class="chart-data">
      <summary>Show the numbers</summary>
      <TableWrap label={props.caption}>
        <table>
          <caption>{props.caption}</caption>
          <thead>
            <tr>
              <th scope="col">Day</th>
              {props.series.map((s) => (
                <th scope="col" class="num" key={s.label}>
                  {s.label}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {props.labels.map((label, i) => (
              <tr key={label}>
                <th scope="row">{label}</th>
                {props.series.map((s) => (
                  <td class="num" key={s.label}>
                    {format(s.values[i] ?? 0)}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </TableWrap>
    </details>
  );
}

interface SeriesChart {
  title: string;
  labels: string[];
  series: Series[];
  format?: (n: number) => string;
}

/** A chart of series per label in its figure: caption, canvas (described for screen readers) and the data table. */
function ChartFigure(props: SeriesChart & { kind: "bar" | "line"; config: () => ChartConfiguration; deps: unknown[] }) {
  const id = useId();
  const canvas = useChart(props.config, [JSON.stringify(props.labels), JSON.stringify(props.series), ...props.deps]);
  return (
    <figure class="chart" aria-labelledby={id}>
      <figcaption id={id}>{props.title}</figcaption>
      <div class="chart-canvas">
        <canvas
          ref={canvas}
          role="img"
          aria-label={`${props.title} (${props.kind} chart; the numbers are in the table below)`}
        />
      </div>
      <DataTable caption={props.title} labels={props.labels} series={props.series} format={props.format} />
    </figure>
  );
}

/** Options both series charts share: no animation, the figure's size, the legend only for several series. */
function seriesOptions(props: SeriesChart) {
  return {
    animation: false as const,
    maintainAspectRatio: false,
    responsive: true,
    plugins: { legend: { display: props.series.length > 1 } },
  };
}

/** Bars per label, one colour per series, stacked when asked (e.g. usage per day, per action). */
export function BarChart(props: SeriesChart & { stacked?: boolean }) {
  return (
    <ChartFigure
      {...props}
      kind="bar"
      deps={[props.stacked]}
      config={() => ({
        type: "bar",
        data: {
          labels: props.labels,
          datasets: props.series.map((s, i) => ({
            label: s.label,
            data: s.values,
            backgroundColor: PALETTE[i % PALETTE.length],
          })),
        },
        options: {
          ...seriesOptions(props),
          scales: {
            x: { stacked: props.stacked },
            y: { stacked: props.stacked, beginAtZero: true, ticks: { precision: 0, ...axisFormat(props.format) } },
          },
        },
      })}
    />
  );
}

/** Lines per label (e.g. analytics per day). */
export function LineChart(props: SeriesChart) {
  return (
    <ChartFigure
      {...props}
      kind="line"
      deps={[]}
      config={() => ({
        type: "line",
        data: {
          labels: props.labels,
          datasets: props.series.map((s, i) => ({
            label: s.label,
            data: s.values,
            borderColor: PALETTE[i % PALETTE.length],
            backgroundColor: PALETTE[i % PALETTE.length],
            pointStyle: (["circle", "rect", "triangle", "rectRot", "star", "cross"] as const)[i % 6],
            tension: 0,
          })),
        },
        options: { ...seriesOptions(props), scales: { y: { beginAtZero: true, ticks: { ...axisFormat(props.format) } } } },
      })}
    />
  );
}

/**
 * Today's quota as a half-ring gauge with the numbers beside it (a meter for assistive technology). `limit` null
 * means unlimited.
 */
export function QuotaGauge(props: { title: string; used: number; limit: number | null; resetAt: string }) {
  const id = useId();
  const unlimited = props.limit === null;
  const limit = props.limit ?? 0;
  const share = unlimited || limit === 0 ? 0 : Math.min(1, props.used / limit);
  const color = share >= 0.9 ? "#be123c" : share >= 0.8 ? "#b45309" : "#047857";
  const canvas = useChart(
    () => ({
      type: "doughnut",
      data: {
        labels: ["Used", "Left"],
        datasets: [
          {
            data: unlimited ? [0, 1] : [Math.min(props.used, limit), Math.max(0, limit - props.used)],
            backgroundColor: [color, "#e5e7eb"],
            borderWidth: 0,
          },
        ],
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        rotation: -90,
        circumference: 180,
        cutout: "70%",
        plugins: { legend: { display: false }, tooltip: { enabled: false } },
      },
    }),
    [props.used, props.limit, color],
  );
  const reset = new Date(props.resetAt);
  return (
    <figure class="gauge" aria-labelledby={id}>
      <figcaption id={id}>{props.title}</figcaption>
      <div class="gauge-canvas">
        <canvas ref={canvas} aria-hidden="true" />
      </div>
      <meter
        class="visually-hidden"
        min={0}
        max={unlimited ? 1 : limit}
        value={unlimited ? 0 : props.used}
        aria-label={props.title}
      />
      <p class="gauge-numbers">
        <strong data-testid="quota-used">{props.used.toLocaleString()}</strong>
        {unlimited ? " used (unlimited)" : ` of ${limit.toLocaleString()} used`}
      </p>
      <p class="muted">
        Resets <time dateTime={props.resetAt}>{reset.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" })}</time>
      </p>
    </figure>
  );
}
