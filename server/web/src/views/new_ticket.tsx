import { useState } from 'preact/hooks';
import { api, type Ticket } from '../api';
import { t } from '../i18n';
import { navigate, useRoute } from '../router';
import { can } from '../session';
import { ErrorBox, PageTitle, errorText } from '../ui';

export function NewTicket() {
  const route = useRoute();
  // Requesters file requests with a title, description, category and urgency; staff more.
  const staff = can('tickets.edit');
  const [values, setValues] = useState({
    title: '',
    description: '',
    category: '',
    urgency: 'medium',
    impact: 'medium',
    kind: 'request',
    hostId: route.query.get('host') ?? '',
  });
  const [error, setError] = useState<string>();
  const field = (name: keyof typeof values) => ({
    value: values[name],
    onInput: (e: Event) => setValues({ ...values, [name]: (e.target as HTMLInputElement).value }),
  });
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    const body: Record<string, unknown> = {
      title: values.title,
      description: values.description,
      category: values.category,
      urgency: values.urgency,
    };
    if (staff) {
      body.kind = values.kind;
      body.impact = values.impact;
      if (values.hostId) body.hostId = values.hostId;
    }
    try {
      const ticket = await api.post<Ticket>('/api/v1/tickets', body);
      navigate(`/tickets/${ticket.id}`);
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <>
      <PageTitle>{t('tickets.new')}</PageTitle>
      <form class="panel form narrow" onSubmit={submit}>
        <label>
          {t('tickets.title')}
          <input required maxLength={200} {...field('title')} />
        </label>
        <label>
          {t('ticket.description')}
          <textarea rows={5} {...field('description')} />
        </label>
        <label>
          {t('ticket.category')}
          <input {...field('category')} />
        </label>
        <label>
          {t('ticket.urgency')}
          <select {...field('urgency')}>
            {['low', 'medium', 'high', 'critical'].map((l) => (
              <option value={l}>{t(`criticality.${l}` as any)}</option>
            ))}
          </select>
        </label>
        {staff && (
          <>
            <label>
              {t('ticket.impact')}
              <select {...field('impact')}>
                {['low', 'medium', 'high', 'critical'].map((l) => (
                  <option value={l}>{t(`criticality.${l}` as any)}</option>
                ))}
              </select>
            </label>
            <label>
              {t('tickets.kind')}
              <select {...field('kind')}>
                <option value="request">{t('kind.request')}</option>
                <option value="incident">{t('kind.incident')}</option>
              </select>
            </label>
            <label>
              {t('ticket.hostId')}
              <input inputMode="numeric" {...field('hostId')} />
            </label>
          </>
        )}
        {error && <ErrorBox message={error} />}
        <button type="submit" class="primary">
          {t('tickets.file')}
        </button>
      </form>
    </>
  );
}
