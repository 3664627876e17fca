import { api } from '../api';
import { Chart, palette } from '../charts';
import { t } from '../i18n';
import { useLive } from '../live';
import { Link, Loaded, PageTitle, formatNumber, useAsync } from '../ui';

interface OverviewData {
  hosts: Record<string, string>;
  openByPriority: Record<string, string>;
  openIncidents?: string;
  openBreached?: string;
  tasksRunning?: string;
  days: { day: string; opened?: string; resolved?: string }[];
}

function Tile({ label, value, href, tone }: { label: string; value: string | number | undefined; href: string; tone?: string }) {
  return (
    <Link href={href} class={`tile ${tone ?? ''}`}>
      <span class="tile-value">{formatNumber(value ?? 0)}</span>
      <span class="tile-label">{label}</span>
    </Link>
  );
}

export function Overview() {
  const state = useAsync(() => api.get<OverviewData>('/api/v1/overview', { days: 30 }), []);
  useLive(['host', 'ticket', 'task'], () => state.reload(), 1000);
  return (
    <>
      <PageTitle>{t('nav.overview')}</PageTitle>
      <Loaded state={state}>
        {(o) => (
          <>
            <section class="tiles" aria-label={t('overview.hosts')}>
              <Tile label={t('host.online')} value={o.hosts.online} href="/hosts?status=online" tone="good" />
              <Tile
                label={t('host.unreachable')}
                value={o.hosts.unreachable}
                href="/hosts?status=unreachable"
                tone={Number(o.hosts.unreachable) > 0 ? 'bad' : ''}
              />
              <Tile label={t('host.offline')} value={o.hosts.offline} href="/hosts?status=offline" />
              <Tile label={t('host.pending')} value={o.hosts.pending} href="/hosts?status=pending" />
            </section>
            <section class="tiles" aria-label={t('overview.desk')}>
              <Tile
                label={t('overview.openIncidents')}
                value={o.openIncidents}
                href="/tickets?state=open&kind=incident"
                tone={Number(o.openIncidents) > 0 ? 'warn' : ''}
              />
              <Tile
                label={t('overview.breached')}
                value={o.openBreached}
                href="/tickets?state=open&breached=true"
                tone={Number(o.openBreached) > 0 ? 'bad' : ''}
              />
              <Tile label={t('overview.tasksRunning')} value={o.tasksRunning} href="/tasks" />
            </section>
            <section class="panel">
              <h2>{t('overview.byPriority')}</h2>
              <div class="priorities">
                {['1', '2', '3', '4', '5'].map((p) => (
                  <Link href={`/tickets?state=open&priority=${p}`} class={`prio p${p}`}>
                    <span class="badge">P{p}</span> {formatNumber(o.openByPriority[p] ?? 0)}
                  </Link>
                ))}
              </div>
            </section>
            <section class="panel">
              <h2>{t('overview.perDay')}</h2>
              <Chart
                label={t('overview.perDay')}
                option={{
                  color: palette,
                  tooltip: { trigger: 'axis' },
                  legend: { top: 0, data: [t('overview.opened'), t('overview.resolved')] },
                  grid: { left: 40, right: 16, top: 36, bottom: 28 },
                  xAxis: { type: 'category', data: o.days.map((d) => d.day.slice(5)) },
                  yAxis: { type: 'value', minInterval: 1 },
                  series: [
                    { name: t('overview.opened'), type: 'bar', data: o.days.map((d) => Number(d.opened ?? 0)) },
                    { name: t('overview.resolved'), type: 'bar', data: o.days.map((d) => Number(d.resolved ?? 0)) },
                  ],
                }}
              />
            </section>
          </>
        )}
      </Loaded>
    </>
  );
}
