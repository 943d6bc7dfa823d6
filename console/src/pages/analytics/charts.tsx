// The analytics page's charts (ECharts with only the parts used, imported here so they load
// with the page's second chunk): conversations over time, response times, the weekday × hour
// heat map and visits per day.
import { BarChart, HeatmapChart, LineChart } from 'echarts/charts';
import { GridComponent, LegendComponent, TooltipComponent, VisualMapComponent } from 'echarts/components';
import * as echarts from 'echarts/core';
import type { EChartsCoreOption } from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';
import dayjs from 'dayjs';
import { useEffect, useRef } from 'react';
import type { components } from '../../api/schema';
import { useI18n } from '../../i18n';
import { duration } from './format';

echarts.use([BarChart, LineChart, HeatmapChart, GridComponent, LegendComponent, TooltipComponent, VisualMapComponent, CanvasRenderer]);

type Dashboard = components['schemas']['Dashboard'];

const COLOURS = ['#1677ff', '#fa8c16', '#52c41a', '#eb2f96'];

function Chart({ option, height = 260, testId }: { option: EChartsCoreOption; height?: number; testId: string }) {
  const element = useRef<HTMLDivElement>(null);
  const chart = useRef<echarts.ECharts | null>(null);
  useEffect(() => {
    if (!element.current) return;
    const instance = echarts.init(element.current);
    chart.current = instance;
    const observer = new ResizeObserver(() => instance.resize());
    observer.observe(element.current);
    return () => {
      observer.disconnect();
      instance.dispose();
      chart.current = null;
    };
  }, []);
  useEffect(() => {
    chart.current?.setOption(option, true);
  }, [option]);
  return <div ref={element} style={{ height, width: '100%' }} data-testid={testId} role="img" />;
}

/** The label of a bucket: a local day, or an hour. */
function bucketLabel(at: string, byDay: boolean): string {
  return byDay ? dayjs(at).format('MM-DD') : dayjs(at).format('MM-DD HH:00');
}

export function VolumeChart({ dashboard }: { dashboard: Dashboard }) {
  const { t } = useI18n();
  const byDay = dashboard.granularity === 'day';
  const labels = dashboard.series.map((p) => bucketLabel(p.at, byDay));
  return (
    <Chart testId="chart-volume" option={{
      color: COLOURS,
      tooltip: { trigger: 'axis' },
      legend: { top: 0 },
      grid: { left: 40, right: 16, top: 32, bottom: 28 },
      xAxis: { type: 'category', data: labels },
      yAxis: { type: 'value', minInterval: 1 },
      series: [
        { name: t('analytics.conversations'), type: 'bar', data: dashboard.series.map((p) => p.metrics.conversations) },
        { name: t('analytics.missed'), type: 'line', data: dashboard.series.map((p) => p.metrics.missed) },
      ],
    }} />
  );
}

export function ResponseChart({ dashboard }: { dashboard: Dashboard }) {
  const { t, lang } = useI18n();
  const byDay = dashboard.granularity === 'day';
  const labels = dashboard.series.map((p) => bucketLabel(p.at, byDay));
  const seconds = (v: number | null | undefined) => (v == null ? null : Math.round(v));
  return (
    <Chart testId="chart-response" option={{
      color: COLOURS,
      tooltip: { trigger: 'axis', valueFormatter: (v: unknown) => duration(typeof v === 'number' ? v : null, lang) },
      legend: { top: 0 },
      grid: { left: 56, right: 16, top: 32, bottom: 28 },
      xAxis: { type: 'category', data: labels },
      yAxis: { type: 'value', minInterval: 1, axisLabel: { formatter: (v: number) => duration(v, lang) } },
      series: [
        { name: t('analytics.firstResponse'), type: 'line', connectNulls: true, data: dashboard.series.map((p) => seconds(p.metrics.first_response_secs)) },
        { name: t('analytics.responseTime'), type: 'line', connectNulls: true, data: dashboard.series.map((p) => seconds(p.metrics.response_secs)) },
      ],
    }} />
  );
}

export function HeatChart({ dashboard }: { dashboard: Dashboard }) {
  const { t } = useI18n();
  const days = [1, 2, 3, 4, 5, 6, 7].map((d) => t(`analytics.weekday${d}` as 'analytics.weekday1'));
  const hours = Array.from({ length: 24 }, (_, h) => String(h));
  const max = Math.max(1, ...dashboard.heatmap.map((c) => c.conversations));
  return (
    <Chart testId="chart-heatmap" height={240} option={{
      tooltip: { position: 'top' },
      grid: { left: 48, right: 16, top: 8, bottom: 56 },
      xAxis: { type: 'category', data: hours, splitArea: { show: true } },
      yAxis: { type: 'category', data: days, inverse: true, splitArea: { show: true } },
      visualMap: { min: 0, max, calculable: true, orient: 'horizontal', left: 'center', bottom: 0, itemHeight: 120 },
      series: [{
        name: t('analytics.conversations'),
        type: 'heatmap',
        data: dashboard.heatmap.map((c) => [c.hour, c.weekday - 1, c.conversations]),
      }],
    }} />
  );
}

export function VisitsChart({ dashboard }: { dashboard: Dashboard }) {
  const { t, lang } = useI18n();
  return (
    <Chart testId="chart-visits" option={{
      color: COLOURS,
      tooltip: { trigger: 'axis' },
      legend: { top: 0 },
      grid: { left: 48, right: 56, top: 32, bottom: 28 },
      xAxis: { type: 'category', data: dashboard.visits.days.map((d) => dayjs(d.day).format('MM-DD')) },
      yAxis: [
        { type: 'value', minInterval: 1 },
        { type: 'value', axisLabel: { formatter: (v: number) => duration(v, lang) } },
      ],
      series: [
        { name: t('analytics.visits'), type: 'bar', data: dashboard.visits.days.map((d) => d.visits) },
        {
          name: t('analytics.visitDuration'), type: 'line', yAxisIndex: 1,
          tooltip: { valueFormatter: (v: unknown) => duration(typeof v === 'number' ? v : null, lang) },
          data: dashboard.visits.days.map((d) => (d.average_secs == null ? null : Math.round(d.average_secs))),
        },
      ],
    }} />
  );
}
