// The dashboard's frame: sign-in until a session exists, then the navigation, the live
// connection's indicator, the search palette (Ctrl-K) and the view of the current path.
import { useEffect, useState } from 'preact/hooks';
import { whenSignedOut } from './api';
import { language, t } from './i18n';
import { useLiveState } from './live';
import { navigate, useRoute } from './router';
import { can, loadSession, signedOut, signOut, useSession } from './session';
import { ErrorBox, LanguageSelect, Link, Loading, errorText } from './ui';
import { SearchPalette } from './views/search';
import { SignIn } from './views/signin';
import { Overview } from './views/overview';
import { Hosts } from './views/hosts';
import { HostDetail } from './views/host';
import { Tickets } from './views/tickets';
import { TicketDetail } from './views/ticket';
import { NewTicket } from './views/new_ticket';
import { Tasks } from './views/tasks';
import { TaskDetail } from './views/task';
import { Reports } from './views/reports';
import { Admin } from './views/admin';

whenSignedOut(signedOut);

function View() {
  const route = useRoute();
  const [first, second] = route.parts;
  if (!first) return can('hosts.read') ? <Overview /> : <Tickets />;
  if (first === 'hosts') return second ? <HostDetail id={second} /> : <Hosts />;
  if (first === 'tickets') {
    if (second === 'new') return <NewTicket />;
    return second ? <TicketDetail id={second} /> : <Tickets />;
  }
  if (first === 'tasks') return second ? <TaskDetail id={second} /> : <Tasks />;
  if (first === 'reports') return <Reports />;
  if (first === 'admin') return <Admin section={second ?? 'users'} />;
  return <ErrorBox message={t('notFound')} />;
}

function LiveIndicator() {
  const state = useLiveState();
  return (
    <span class={`live live-${state}`} role="status" data-live={state} title={t(`live.${state}`)}>
      <span class="dot" aria-hidden="true" />
      <span class="live-text">{t(`live.${state}`)}</span>
    </span>
  );
}

function Nav() {
  const route = useRoute();
  const { session } = useSession();
  const [open, setOpen] = useState(false);
  const items: [string, string, boolean][] = [
    ['/', t('nav.overview'), can('hosts.read')],
    ['/hosts', t('nav.hosts'), can('hosts.read')],
    ['/tickets', t('nav.tickets'), can('tickets.read')],
    ['/tasks', t('nav.tasks'), can('tasks.read')],
    ['/reports', t('nav.reports'), can('reports.read')],
    ['/admin', t('nav.admin'), can('users.read') || can('audit.read') || can('maintenance.read')],
  ];
  const current = '/' + (route.parts[0] ?? '');
  useEffect(() => setOpen(false), [route.path]);
  return (
    <header class="top">
      <Link href="/" class="brand">
        fleetdesk
      </Link>
      <button type="button" class="menu" aria-expanded={open} aria-controls="nav" onClick={() => setOpen(!open)}>
        {t('nav.menu')}
      </button>
      <nav id="nav" class={open ? 'open' : ''} aria-label={t('nav.main')}>
        {items
          .filter(([, , allowed]) => allowed)
          .map(([href, label]) => (
            <Link href={href} class={current === href ? 'active' : ''}>
              {label}
            </Link>
          ))}
      </nav>
      <div class="tools">
        <button type="button" class="search-button" onClick={() => window.dispatchEvent(new Event('fleetdesk:search'))}>
          {t('search.open')} <kbd>Ctrl K</kbd>
        </button>
        <LiveIndicator />
        <LanguageSelect />
        <span class="who" title={session?.user.role}>
          {session?.user.name}
        </span>
        <button type="button" class="link" onClick={() => signOut().then(() => navigate('/'))}>
          {t('signOut')}
        </button>
      </div>
    </header>
  );
}

export function App() {
  const { session, checked } = useSession();
  const [error, setError] = useState<string>();
  const [, setLang] = useState(language());
  useEffect(() => {
    loadSession().catch((e) => setError(errorText(e)));
    const onLanguage = () => setLang(language());
    window.addEventListener('fleetdesk:language', onLanguage);
    return () => window.removeEventListener('fleetdesk:language', onLanguage);
  }, []);
  if (error) return <ErrorBox message={error} onRetry={() => location.reload()} />;
  if (!checked) return <Loading />;
  if (!session) return <SignIn />;
  return (
    <>
      <a href="#main" class="skip">
        {t('skipToContent')}
      </a>
      <Nav />
      <main id="main" tabIndex={-1}>
        <View />
      </main>
      <SearchPalette />
    </>
  );
}
