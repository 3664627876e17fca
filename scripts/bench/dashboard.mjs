// Times the dashboard's first render in headless chromium (playwright-core): for each view, a
// fresh browser context (empty cache), signed in through the API, then from navigation to the
// view's data on screen. Prints a table: median and range over the runs, and the bytes the first
// load transferred (headers and compressed bodies), from the browser's own count.
//   node scripts/bench/dashboard.mjs --url URL --password PW --ticket ID [--runs 5] [--store NAME]
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const root = resolve(import.meta.dirname, '../..');
const { chromium } = createRequire(join(root, 'server/web/package.json'))('playwright-core');
const { values: args } = parseArgs({
  options: {
    url: { type: 'string' },
    password: { type: 'string' },
    ticket: { type: 'string' },
    runs: { type: 'string', default: '5' },
    store: { type: 'string', default: 'sqlite' },
  },
});
const runs = Number(args.runs);

// What "rendered" means for each view: its data on screen, not its frame.
const views = [
  ['overview', '/', '.tile-value'],
  ['hosts list', '/hosts', 'table.list tbody tr'],
  ['ticket list', '/tickets?state=', 'tr[data-ticket]'],
  [`ticket with its worklog (#${args.ticket})`, `/tickets/${args.ticket}`, 'table.worklog tbody tr'],
];

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});

async function once(path, selector) {
  const context = await browser.newContext({
    ignoreHTTPSErrors: true,
    viewport: { width: 1280, height: 800 },
  });
  // The session cookie, as a sign-in in this browser sets it.
  const signIn = await context.request.post(`${args.url}/api/v1/session`, {
    data: { name: 'admin', password: args.password },
  });
  if (signIn.status() !== 201) throw new Error(`sign-in answered ${signIn.status()}`);
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  let bytes = 0;
  cdp.on('Network.loadingFinished', (e) => {
    bytes += e.encodedDataLength;
  });
  const started = performance.now();
  await page.goto(args.url + path, { waitUntil: 'commit' });
  await page.locator(selector).first().waitFor({ timeout: 30_000 });
  const ms = performance.now() - started;
  // What the view goes on to load (charts) counts in its first load.
  await page.waitForLoadState('networkidle');
  await context.close();
  return { ms, bytes };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`| store | view | runs | first render median ms | min ms | max ms | first load KiB (transferred) |`);
console.log(`| --- | --- | ---: | ---: | ---: | ---: | ---: |`);
for (const [name, path, selector] of views) {
  await once(path, selector); // the server's own caches warm, as in service
  const samples = [];
  for (let i = 0; i < runs; i++) samples.push(await once(path, selector));
  const ms = samples.map((s) => s.ms);
  const kib = median(samples.map((s) => s.bytes)) / 1024;
  console.log(
    `| ${args.store} | ${name} | ${runs} | ${median(ms).toFixed(0)} | ${Math.min(...ms).toFixed(0)} | ${Math.max(...ms).toFixed(0)} | ${kib.toFixed(1)} |`,
  );
}
await browser.close();
