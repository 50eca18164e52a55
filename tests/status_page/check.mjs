// Loads the status page in headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core) at phone, desktop and wall-screen sizes; prints what the DOM shows, every
// console error or warning (CSP violations land there) and page error, and writes screenshots.
//   node check.mjs URL SCREENSHOT_DIR
import { chromium } from 'playwright-core';

const [url, shotDir] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const result = { console: [], pageErrors: [], failedRequests: [], views: {} };
const views = [
  ['phone', { width: 390, height: 844 }],
  ['desktop', { width: 1400, height: 1000 }],
  ['wall', { width: 2560, height: 1440 }],
];
for (const [name, viewport] of views) {
  const page = await browser.newPage({ viewport });
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') result.console.push(`${name}: ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => result.pageErrors.push(`${name}: ${e.message}`));
  page.on('requestfailed', (r) => result.failedRequests.push(`${name}: ${r.url()}`));
  const response = await page.goto(url, { waitUntil: 'load' });
  const csp = response.headers()['content-security-policy'] || '';
  result.views[name] = await page.evaluate((csp) => ({
    csp,
    title: document.title,
    scripts: document.scripts.length,
    stylesheetLoaded: [...document.styleSheets].some((s) => s.href && s.href.endsWith('/static/status.css') && s.cssRules.length > 100),
    overflowX: document.documentElement.scrollWidth > window.innerWidth + 1,
    tenants: [...document.querySelectorAll('section.tenant')].map((s) => ({
      tenant: s.dataset.tenant,
      state: s.querySelector('.state')?.textContent ?? null,
      ratio: s.querySelector('.score')?.dataset.ratio ?? null,
      pct: s.querySelector('.score .pct')?.textContent ?? null,
      scoreColor: s.querySelector('.score') ? getComputedStyle(s.querySelector('.score')).color : null,
      points: s.querySelector('[data-points]')?.dataset.points ?? null,
      max: s.querySelector('[data-max]')?.dataset.max ?? null,
      categories: [...s.querySelectorAll('.categories li')].map((li) => ({
        category: li.dataset.category,
        fill: li.querySelector('.fill').getBoundingClientRect().width,
        bar: li.querySelector('.bar').getBoundingClientRect().width,
        text: li.querySelector('.val').textContent,
      })),
      actions: [...s.querySelectorAll('.actions li')].map((li) => ({ control: li.dataset.control, title: li.querySelector('.title').textContent })),
      peers: [...s.querySelectorAll('.peers li[data-basis]')].map((li) => li.dataset.basis),
      error: s.querySelector('.error')?.textContent ?? null,
      nodata: s.querySelector('.nodata')?.textContent ?? null,
    })),
  }), csp);
  await page.screenshot({ path: `${shotDir}/status-${name}.png`, fullPage: name !== 'wall' });
  await page.close();
}
await browser.close();
console.log(JSON.stringify(result));
