import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { BrowserContext, chromium, Page } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS } from '../support/chromium';
import { startStack, TestStack } from '../support/stack';

const SANDBOX_SCRIPT = /^https:\/\/embeddable-sandbox\.cdn\.apollographql\.com\/.*embeddable-sandbox\.umd\.production\.min\.js/;
/**
 * Stands in for Apollo's Sandbox script, which only its CDN serves: it records how the page
 * constructs Sandbox and marks the spot where Sandbox would draw itself.
 */
const SANDBOX_STUB = `
  window.EmbeddedSandbox = function (config) {
    window.__sandboxConfig = config;
    var target = document.querySelector(config.target);
    var marker = document.createElement('p');
    marker.id = 'sandbox-stub';
    marker.textContent = 'Sandbox for ' + config.initialEndpoint;
    target.appendChild(marker);
  };`;

/** What a browser shows at GET /graphql: Apollo Sandbox in development, nothing of it in production. */
describe('GET /graphql in headless Chromium (skipped where Chromium is not installed)', function () {
  this.timeout(60_000);
  let dev: TestStack | undefined;
  let prod: TestStack | undefined;
  let browser: BrowserContext | undefined;
  let profile: string | undefined;

  before(async function () {
    if (!fs.existsSync(CHROMIUM)) return this.skip(); // no Chromium at CHROMIUM_PATH or /usr/bin/chromium
    [dev, prod] = await Promise.all([
      startStack('sqlite-local', { NODE_ENV: 'development' }),
      startStack('sqlite-local', { NODE_ENV: 'production' }),
    ]);
    profile = fs.mkdtempSync(path.join(os.tmpdir(), 'glimpse-chromium-'));
    browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  });
  after(async () => {
    await browser?.close();
    if (profile) fs.rmSync(profile, { recursive: true, force: true });
    await Promise.all([dev?.stop(), prod?.stop()]);
  });

  /**
   * Opens the page and collects what it asked for and what went wrong in it. Nothing leaves this
   * machine: every request elsewhere fails as it would offline, wherever the test runs.
   */
  async function open(url: string, prepare?: (page: Page) => Promise<unknown>) {
    const page = await browser!.newPage();
    const requested: string[] = [];
    const errors: string[] = [];
    page.on('request', (r) => requested.push(r.url()));
    page.on('pageerror', (e) => errors.push(e.message));
    await page.route(
      (u) => !['127.0.0.1', 'localhost'].includes(u.hostname),
      (route) => route.abort('internetdisconnected'),
    );
    await prepare?.(page);
    const response = await page.goto(url, { waitUntil: 'load' });
    return { page, response: response!, requested, errors };
  }

  it('in development, offline: the page loads and says Sandbox needs its CDN', async () => {
    const { page, response, requested, errors } = await open(`${dev!.url}/graphql`);
    expect(response.status()).to.equal(200);
    expect(await page.title()).to.equal('Apollo Server');
    expect(requested.some((u) => SANDBOX_SCRIPT.test(u))).to.equal(true);
    // Without Apollo's CDN the Sandbox script never arrives, and the page's own fallback shows.
    expect(await page.locator('.fallback').innerText()).to.contain(
      'Apollo Sandbox cannot be loaded; it appears that you might be offline.',
    );
    expect(errors).to.deep.equal(['window.EmbeddedSandbox is not a constructor']);
    await page.close();
  });

  it("in development, with the Sandbox script served: the page starts Sandbox on this server's /graphql", async () => {
    const { page, errors } = await open(`${dev!.url}/graphql`, (p) =>
      p.route(SANDBOX_SCRIPT, (route) => route.fulfill({ status: 200, contentType: 'application/javascript', body: SANDBOX_STUB })),
    );
    const config = (await page.evaluate('window.__sandboxConfig')) as Record<string, unknown>;
    expect(config).to.deep.include({ target: '#embeddableSandbox', initialEndpoint: `${dev!.url}/graphql`, endpointIsEditable: false });
    expect(await page.locator('#embeddableSandbox #sandbox-stub').innerText()).to.equal(`Sandbox for ${dev!.url}/graphql`);
    expect(errors).to.deep.equal([]);
    await page.close();
  });

  it("in production: Apollo's plain page, which never asks for Sandbox or Explorer", async () => {
    const { page, response, requested } = await open(`${prod!.url}/graphql`);
    expect(response.status()).to.equal(200);
    expect(await page.locator('.fallback').innerText()).to.contain('Welcome to Apollo Server');
    expect(requested.filter((u) => /embeddable-(sandbox|explorer)|embed\.apollographql/.test(u))).to.deep.equal([]);
    expect(await page.locator('#embeddableSandbox, #embeddableExplorer').count()).to.equal(0);
    await page.close();
  });
});
