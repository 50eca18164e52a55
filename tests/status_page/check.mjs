// Loads the exporter's pages in headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core) at phone, desktop and wall-screen sizes, in light and dark; prints what the
// DOM shows, every console error or warning (CSP violations land there), page error and failed
// request, writes screenshots, and prints each tenant page to PDF (for pdftotext).
//   node check.mjs SHOT_DIR NAME=URL [NAME=URL ...]
// A NAME starting with "tenant" is read as a tenant page, "fleet" as the overview.
import { chromium } from 'playwright-core';

const [shotDir, ...targets] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const result = { console: [], pageErrors: [], failedRequests: [], pages: {} };
const views = [
  ['phone', { width: 390, height: 844 }, 'light'],
  ['desktop', { width: 1400, height: 1000 }, 'light'],
  ['wall', { width: 2560, height: 1440 }, 'dark'],
];

function readFleet() {
  const s = document.querySelector('.summary');
  const main = document.querySelector('main');
  return {
    summary: s ? { ...s.dataset } : null,
    page: main?.dataset.page ?? null,
    pages: main?.dataset.pages ?? null,
    rows: [...document.querySelectorAll('tr[data-tenant]')].map((r) => ({
      tenant: r.dataset.tenant,
      status: r.dataset.status,
      band: r.dataset.band,
      ratio: r.dataset.ratio,
      change7d: r.querySelector('[data-change-7d]')?.getAttribute('data-change-7d') ?? null,
      href: r.querySelector('a')?.getAttribute('href') ?? null,
      scoreColor: r.querySelector('.score') ? getComputedStyle(r.querySelector('.score')).color : null,
      error: r.querySelector('.err')?.textContent ?? null,
    })),
    next: document.querySelector('a[rel=next]')?.getAttribute('href') ?? null,
  };
}

function readTenant() {
  const a = document.querySelector('article.report');
  const svg = a?.querySelector('svg.trend');
  return {
    root: a ? { ...a.dataset } : null,
    bigColor: a?.querySelector('.big') ? getComputedStyle(a.querySelector('.big')).color : null,
    trendDays: svg?.dataset.days ?? null,
    trendWidth: svg ? svg.getBoundingClientRect().width : 0,
    actions: [...document.querySelectorAll('table.actions:not(.set-aside) tr[data-control]')].map((r) => ({
      control: r.dataset.control,
      available: r.dataset.pointsAvailable,
      title: r.querySelector('td.title')?.childNodes[0]?.textContent ?? null,
      links: [...r.querySelectorAll('a')].map((l) => l.getAttribute('href')),
    })),
    setAside: [...document.querySelectorAll('table.set-aside tr[data-control]')].map((r) => r.dataset.control),
    changes: [...document.querySelectorAll('table.changes tr[data-control]')].map((r) => ({
      control: r.dataset.control, date: r.dataset.date, delta: r.dataset.delta,
    })),
    error: document.querySelector('.error-box')?.textContent ?? null,
    externalLinks: [...document.querySelectorAll('a[href]')].map((l) => l.href).filter((h) => !h.startsWith(location.origin)),
  };
}

for (const target of targets) {
  const [name, url] = [target.slice(0, target.indexOf('=')), target.slice(target.indexOf('=') + 1)];
  const isTenant = name.startsWith('tenant');
  result.pages[name] = {};
  for (const [view, viewport, scheme] of views) {
    const page = await browser.newPage({ viewport, colorScheme: scheme });
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') result.console.push(`${name}/${view}: ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => result.pageErrors.push(`${name}/${view}: ${e.message}`));
    page.on('requestfailed', (r) => result.failedRequests.push(`${name}/${view}: ${r.url()}`));
    const response = await page.goto(url, { waitUntil: 'load' });
    const csp = response.headers()['content-security-policy'] || '';
    const common = await page.evaluate((csp) => ({
      csp,
      status: 0,
      scripts: document.scripts.length,
      inlineStyles: document.querySelectorAll('[style]').length,
      stylesheetLoaded: [...document.styleSheets].some((s) => s.href && s.href.endsWith('/static/status.css') && s.cssRules.length > 100),
      overflowX: document.documentElement.scrollWidth > window.innerWidth + 1,
      background: getComputedStyle(document.body).backgroundColor,
      bytes: document.documentElement.outerHTML.length,
    }), csp);
    common.status = response.status();
    const data = await page.evaluate(isTenant ? readTenant : readFleet);
    result.pages[name][view] = { ...common, ...data };
    await page.screenshot({ path: `${shotDir}/${name}-${view}.png`, fullPage: view !== 'wall' });
    if (isTenant && view === 'desktop') {
      await page.emulateMedia({ media: 'print' });
      await page.pdf({ path: `${shotDir}/${name}.pdf`, format: 'A4', printBackground: true });
    }
    await page.close();
  }
}
await browser.close();
console.log(JSON.stringify(result));
