// The dashboard in a real browser (Debian's chromium, driven by playwright-core) against a real
// server and a real agent on dbusmock: the daily work of an operator, live updates, and what a
// viewer is (not) offered. Screenshots of each main view go to $SCREENSHOTS (default
// build/e2e-screenshots).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { Fleet, waitFor } from './fleet.mjs';

const root = resolve(import.meta.dirname, '../..');
const { chromium } = createRequire(join(root, 'server/web/package.json'))('playwright-core');
const shots = resolve(root, process.env.SCREENSHOTS ?? 'build/e2e-screenshots');
mkdirSync(shots, { recursive: true });

// Chromium as root in a container, with nothing that would call out to Google's services.
const launchArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
];

let fleet;
let browser;
let page;
const foreign = [];

async function signIn(context, name, password, byKeyboard = false) {
  const p = await context.newPage();
  p.on('request', (r) => {
    const url = r.url();
    if (!url.startsWith(fleet.url) && !url.startsWith('data:')) foreign.push(url);
  });
  await p.goto(fleet.url + '/');
  if (byKeyboard) {
    // The name field is the first stop of the page's tab order; Enter submits.
    await p.getByLabel('User name').waitFor();
    await p.keyboard.press('Tab');
    await p.keyboard.type(name);
    await p.keyboard.press('Tab');
    await p.keyboard.type(password);
    await p.keyboard.press('Enter');
  } else {
    await p.getByLabel('User name').fill(name);
    await p.getByLabel('Password').fill(password);
    await p.getByRole('button', { name: 'Sign in' }).click();
  }
  await p.locator('header.top').waitFor();
  return p;
}

async function shot(p, name) {
  await p.waitForLoadState('networkidle').catch(() => {});
  await p.screenshot({ path: join(shots, `${name}.png`) });
}

describe('the dashboard', { timeout: 240_000 }, () => {
  before(async () => {
    fleet = await new Fleet().start();
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      args: launchArgs,
    });
    const context = await browser.newContext({
      ignoreHTTPSErrors: true,
      viewport: { width: 1280, height: 800 },
      locale: 'en-GB',
    });
    page = await signIn(context, 'admin', fleet.adminPassword);
  });

  after(async () => {
    await browser?.close();
    if (fleet) {
      if (process.exitCode) console.log(fleet.logs());
      await fleet.stop();
    }
  });

  test('signing in shows the overview with the host online and a live connection', async () => {
    await page.locator('.tile', { hasText: 'online' }).locator('.tile-value').filter({ hasText: '1' }).waitFor();
    await page.locator('[data-live="live"]').waitFor();
    await shot(page, 'overview');
  });

  test('the hosts list shows the host and its detail its units', async () => {
    await page.getByRole('link', { name: 'Hosts', exact: true }).click();
    await page.getByRole('link', { name: fleet.host.hostname, exact: true }).waitFor();
    await shot(page, 'hosts');
    await page.getByRole('link', { name: fleet.host.hostname, exact: true }).click();
    await page.locator('tr[data-unit="nginx.service"]').getByText('active').waitFor();
    await shot(page, 'host');
    await page.getByRole('button', { name: 'Edit' }).click();
    await page.getByLabel('Owner').fill('team-web');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.locator('dd', { hasText: 'team-web' }).waitFor();
    assert.equal((await fleet.api('GET', `/api/v1/hosts/${fleet.host.id}`)).owner, 'team-web');
  });

  test('a unit that fails on the host appears as an incident without a reload', async () => {
    await page.getByRole('link', { name: 'Tickets', exact: true }).click();
    await page.locator('table.list, .empty').first().waitFor();
    const loads = [];
    page.on('framenavigated', (f) => f === page.mainFrame() && loads.push(f.url()));
    fleet.setUnitState('nginx.service', 'failed', 'failed', 1);
    const row = page.locator('tr[data-ticket]', { hasText: 'nginx.service' });
    await row.waitFor({ timeout: 20_000 });
    assert.equal(loads.length, 0, 'the page was not loaded again');
    await shot(page, 'tickets');
  });

  test('an operator acknowledges, assigns, notes and resolves the incident', async () => {
    await page.locator('tr[data-ticket]', { hasText: 'nginx.service' }).getByRole('link').click();
    await page.getByRole('button', { name: 'Assign' }).click();
    await page.getByLabel('Group').fill('web');
    await page.getByLabel('Assignee').selectOption({ label: 'admin' });
    await page.locator('form').getByRole('button', { name: 'Assign' }).click();
    await page.locator('.page-title .badge', { hasText: 'assigned' }).waitFor();
    await page.getByRole('button', { name: 'Start work' }).click();
    await page.locator('form').getByRole('button', { name: 'Start work' }).click();
    await page.locator('.page-title .badge', { hasText: 'in progress' }).waitFor();
    await page.getByLabel('Add note').fill('The zanzibar upstream was restarted by hand.');
    await page.locator('form').getByRole('button', { name: 'Add note' }).click();
    await page.locator('.notes li', { hasText: 'zanzibar' }).waitFor();
    await shot(page, 'ticket');
    await page.getByRole('button', { name: 'Resolve' }).click();
    await page.locator('form').getByRole('button', { name: 'Resolve' }).click();
    await page.locator('.page-title .badge', { hasText: 'resolved' }).waitFor();
    const id = page.url().split('/').pop();
    const ticket = await fleet.api('GET', `/api/v1/tickets/${id}`);
    assert.equal(ticket.state, 'resolved');
    assert.equal(ticket.assignee, 'admin');
    assert.equal(ticket.group, 'web');
  });

  test('a service.restart dispatched from the tasks view shows its result', async () => {
    await page.getByRole('link', { name: 'Tasks', exact: true }).click();
    await page.getByLabel('Kind').selectOption('service.restart');
    await page.getByLabel('Unit').fill('nginx.service');
    await page.getByLabel('Host ids').fill(fleet.host.id);
    await page.getByRole('button', { name: 'Preview targets' }).click();
    await page.getByText('1 hosts in 1 batches.').waitFor();
    await page.getByRole('button', { name: 'Send' }).click();
    await page
      .locator(`tr[data-host="${fleet.host.id}"] .badge`, {
        hasText: 'succeeded',
      })
      .waitFor({ timeout: 20_000 });
    await shot(page, 'task');
  });

  test('the search finds the ticket by a word of its note, by keyboard alone', async () => {
    await page.keyboard.press('Control+k');
    await page.waitForFunction(() => document.activeElement?.closest('.palette') !== null);
    await page.keyboard.type('zanzibar');
    const hit = page.locator('#search-results li', { hasText: 'nginx.service' });
    await hit.waitFor();
    await shot(page, 'search');
    const index = await page
      .locator('#search-results li')
      .evaluateAll((items) => items.findIndex((li) => li.textContent.includes('nginx.service')));
    for (let i = 0; i < index; i++) await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    await page.locator('.notes li', { hasText: 'zanzibar' }).waitFor();
  });

  test('the reports and admin views render', async () => {
    await page.getByRole('link', { name: 'Reports', exact: true }).click();
    await page.locator('.chart canvas').first().waitFor();
    await shot(page, 'reports');
    await page.getByRole('link', { name: 'Admin', exact: true }).click();
    await page.getByRole('cell', { name: 'admin', exact: true }).first().waitFor();
    await page.getByRole('link', { name: 'Enrollment' }).click();
    await page.getByRole('button', { name: 'New enrollment token' }).click();
    await page.locator('pre.copy', { hasText: 'fleetdesk-agent enroll --server' }).waitFor();
    await shot(page, 'admin');
  });

  test('the language switch shows every view in Chinese', async () => {
    await page.getByLabel('Language').first().selectOption('zh-CN');
    await page.getByRole('link', { name: '工单', exact: true }).click();
    await page.getByRole('heading', { name: '工单' }).waitFor();
    await page.getByRole('button', { name: '全部', exact: true }).click();
    await page.locator('tr[data-ticket]', { hasText: 'nginx.service' }).getByText('已解决').waitFor();
    await shot(page, 'tickets-zh');
    await page.getByLabel('语言').first().selectOption('en');
    await page.getByRole('heading', { name: 'Tickets' }).waitFor();
  });

  test('a viewer is offered no action they may not take', async () => {
    await fleet.api('POST', '/api/v1/users', {
      name: 'vera',
      role: 'viewer',
      password: 'viewer-password-1',
    });
    const context = await browser.newContext({
      ignoreHTTPSErrors: true,
      viewport: { width: 1280, height: 800 },
    });
    const viewer = await signIn(context, 'vera', 'viewer-password-1', true);
    const tickets = await fleet.api('GET', '/api/v1/tickets?limit=1');
    await viewer.goto(`${fleet.url}/tickets/${tickets.items[0].id}`);
    await viewer.locator('.page-title h1').waitFor();
    await viewer.getByRole('heading', { name: 'Timeline' }).waitFor();
    for (const name of ['Assign', 'Start work', 'Resolve', 'Reopen', 'Close', 'Add note', 'Edit']) {
      assert.equal(await viewer.getByRole('button', { name, exact: true }).count(), 0, `a viewer is offered ${name}`);
    }
    assert.equal(await viewer.getByRole('link', { name: 'New ticket' }).count(), 0);
    await viewer.goto(`${fleet.url}/tasks`);
    await viewer.getByRole('heading', { name: 'Recent tasks' }).waitFor();
    assert.equal(await viewer.getByRole('button', { name: 'Send' }).count(), 0, 'a viewer is offered the task form');
    await viewer.goto(`${fleet.url}/hosts`);
    await viewer.getByRole('link', { name: fleet.host.hostname, exact: true }).waitFor();
    assert.equal(await viewer.getByText('Import CSV').count(), 0);
    assert.equal(await viewer.getByRole('checkbox').count(), 0);
    // Admin holds what a viewer may read (maintenance windows, agent profiles), and nothing to do.
    await viewer.getByRole('link', { name: 'Admin', exact: true }).click();
    await viewer.getByRole('link', { name: 'Maintenance' }).waitFor();
    for (const name of ['Users', 'API tokens', 'Enrollment', 'Agents', 'Audit log']) {
      assert.equal(await viewer.getByRole('link', { name, exact: true }).count(), name === 'API tokens' ? 1 : 0, `a viewer sees ${name}`);
    }
    await viewer.getByRole('link', { name: 'Maintenance' }).click();
    await viewer.getByText('No maintenance window is on or planned.').waitFor();
    assert.equal(await viewer.getByRole('button', { name: 'Start a window' }).count(), 0);
    await context.close();
  });

  test('the dashboard is readable at a phone width', async () => {
    const context = await browser.newContext({
      ignoreHTTPSErrors: true,
      viewport: { width: 390, height: 844 },
      isMobile: true,
    });
    const phone = await signIn(context, 'admin', fleet.adminPassword);
    await phone.locator('.tile').first().waitFor();
    const width = await phone.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 390, `the overview is ${width} px wide on a 390 px screen`);
    await phone.getByRole('button', { name: 'Menu' }).click();
    await phone.getByRole('link', { name: 'Tickets', exact: true }).click();
    await phone.getByRole('heading', { name: 'Tickets' }).waitFor();
    await shot(phone, 'phone-tickets');
    await context.close();
  });

  test('no request left the machine', () => {
    assert.deepEqual(foreign, []);
  });
});
