import { useState } from 'preact/hooks';
import { api } from '../api';
import { Chart, palette } from '../charts';
import { t } from '../i18n';
import { Empty, Loaded, PageTitle, formatNumber, useAsync } from '../ui';

interface Row {
  month: string;
  value: string;
  opened?: string;
  resolved?: string;
  meanTimeToAcknowledgeSeconds?: number;
  meanTimeToResolveSeconds?: number;
  p90TimeToResolveSeconds?: number;
  breachRate?: number;
}

interface Noise {
  items: { key: string; label: string; incidents?: string; occurrences?: string }[];
}

const hours = (s?: number) => Math.round(((s ?? 0) / 3600) * 10) / 10;

export function Reports() {
  const [kind, setKind] = useState('all');
  const monthly = useAsync(() => api.get<{ items: Row[] }>('/api/v1/reports/monthly', { kind }), [kind]);
  const byPriority = useAsync(() => api.get<{ items: Row[] }>('/api/v1/reports/monthly', { kind, by: 'priority' }), [kind]);
  const noisy = useAsync(() => api.get<Noise>('/api/v1/reports/noise', { what: 'hosts', limit: 10 }), []);
  const csv = `/api/v1/reports/monthly?${new URLSearchParams({ kind, format: 'csv' })}`;
  return (
    <>
      <PageTitle
        actions={
          <>
            <select aria-label={t('tickets.kind')} value={kind} onChange={(e) => setKind((e.target as HTMLSelectElement).value)}>
              <option value="all">{t('tickets.anyKind')}</option>
              <option value="incident">{t('kind.incident')}</option>
              <option value="request">{t('kind.request')}</option>
            </select>
            <a class="button" href={csv} download="monthly.csv">
              {t('reports.csv')}
            </a>
          </>
        }
      >
        {t('nav.reports')}
      </PageTitle>
      <div class="columns">
        <section class="panel">
          <h2>{t('reports.counts')}</h2>
          <Loaded state={monthly}>
            {(m) =>
              !m.items.length ? (
                <Empty>{t('reports.none')}</Empty>
              ) : (
                <Chart
                  label={t('reports.counts')}
                  option={{
                    color: palette,
                    tooltip: { trigger: 'axis' },
                    legend: { top: 0, data: [t('overview.opened'), t('overview.resolved')] },
                    grid: { left: 48, right: 16, top: 36, bottom: 28 },
                    xAxis: { type: 'category', data: m.items.map((r) => r.month) },
                    yAxis: { type: 'value', minInterval: 1 },
                    series: [
                      { name: t('overview.opened'), type: 'bar', data: m.items.map((r) => Number(r.opened ?? 0)) },
                      { name: t('overview.resolved'), type: 'bar', data: m.items.map((r) => Number(r.resolved ?? 0)) },
                    ],
                  }}
                />
              )
            }
          </Loaded>
        </section>
        <section class="panel">
          <h2>{t('reports.times')}</h2>
          <Loaded state={monthly}>
            {(m) =>
              !m.items.length ? (
                <Empty>{t('reports.none')}</Empty>
              ) : (
                <Chart
                  label={t('reports.times')}
                  option={{
                    color: palette,
                    tooltip: { trigger: 'axis' },
                    legend: { top: 0, data: [t('reports.mtta'), t('reports.mttr'), t('reports.p90ttr')] },
                    grid: { left: 64, right: 16, top: 36, bottom: 28 },
                    xAxis: { type: 'category', data: m.items.map((r) => r.month) },
                    yAxis: { type: 'value', axisLabel: { formatter: `{value} ${t('reports.hours')}` } },
                    series: [
                      { name: t('reports.mtta'), type: 'line', data: m.items.map((r) => hours(r.meanTimeToAcknowledgeSeconds)) },
                      { name: t('reports.mttr'), type: 'line', data: m.items.map((r) => hours(r.meanTimeToResolveSeconds)) },
                      { name: t('reports.p90ttr'), type: 'line', data: m.items.map((r) => hours(r.p90TimeToResolveSeconds)) },
                    ],
                  }}
                />
              )
            }
          </Loaded>
        </section>
        <section class="panel">
          <h2>{t('reports.breachRate')}</h2>
          <Loaded state={byPriority}>
            {(m) => {
              const months = [...new Set(m.items.map((r) => r.month))];
              const values = [...new Set(m.items.map((r) => r.value))].sort();
              return !m.items.length ? (
                <Empty>{t('reports.none')}</Empty>
              ) : (
                <Chart
                  label={t('reports.breachRate')}
                  option={{
                    color: palette,
                    tooltip: { trigger: 'axis' },
                    legend: { top: 0, data: values },
                    grid: { left: 48, right: 16, top: 36, bottom: 28 },
                    xAxis: { type: 'category', data: months },
                    yAxis: { type: 'value', axisLabel: { formatter: '{value} %' } },
                    series: values.map((v) => ({
                      name: v,
                      type: 'line',
                      data: months.map((month) => {
                        const row = m.items.find((r) => r.month === month && r.value === v);
                        return row ? Math.round((row.breachRate ?? 0) * 1000) / 10 : 0;
                      }),
                    })),
                  }}
                />
              );
            }}
          </Loaded>
        </section>
        <section class="panel">
          <h2>{t('reports.noisy')}</h2>
          <Loaded state={noisy}>
            {(n) =>
              !n.items.length ? (
                <Empty>{t('reports.none')}</Empty>
              ) : (
                <>
                  <Chart
                    label={t('reports.noisy')}
                    height={60 + 28 * n.items.length}
                    option={{
                      color: palette,
                      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
                      legend: { top: 0, data: [t('reports.incidents'), t('ticket.occurrences')] },
                      grid: { left: 120, right: 24, top: 36, bottom: 24 },
                      xAxis: { type: 'value', minInterval: 1 },
                      yAxis: { type: 'category', inverse: true, data: n.items.map((r) => r.label) },
                      series: [
                        { name: t('reports.incidents'), type: 'bar', data: n.items.map((r) => Number(r.incidents ?? 0)) },
                        { name: t('ticket.occurrences'), type: 'bar', data: n.items.map((r) => Number(r.occurrences ?? 0)) },
                      ],
                    }}
                  />
                  <table class="list">
                    <thead>
                      <tr>
                        <th>{t('tickets.host')}</th>
                        <th>{t('reports.incidents')}</th>
                        <th>{t('ticket.occurrences')}</th>
                      </tr>
                    </thead>
                    <tbody>
                      {n.items.map((r) => (
                        <tr>
                          <td>
                            <a href={`/hosts/${r.key}`}>{r.label}</a>
                          </td>
                          <td>{formatNumber(r.incidents)}</td>
                          <td>{formatNumber(r.occurrences)}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </>
              )
            }
          </Loaded>
        </section>
      </div>
    </>
  );
}
