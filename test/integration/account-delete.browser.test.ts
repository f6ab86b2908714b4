import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { BrowserContext, chromium } from 'playwright-core';
import { User } from '../../src/entities/user.entity';
import { CHROMIUM, CHROMIUM_ARGS } from '../support/chromium';
import { ApiClient } from '../support/client';
import { jpegBytes, registerUser } from '../support/factories';
import { smsInboxFor } from '../support/fake-aliyun-sms';
import { STACKS, startStack, TestStack } from '../support/stack';

/** The form's cookie and token, as a browser that opened the page holds them. */
async function openForm(url: string): Promise<{ cookie: string; token: string; body: string }> {
  const res = await fetch(`${url}/account/delete`);
  const body = await res.text();
  const cookie = res.headers.get('set-cookie')!.split(';')[0];
  const token = /name="form_token" value="([^"]+)"/.exec(body)![1];
  return { cookie, token, body };
}

const post = (url: string, fields: Record<string, string>, cookie?: string) =>
  fetch(`${url}/account/delete`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) },
    body: new URLSearchParams(fields).toString(),
  });

for (const kind of STACKS) {
  describe(`GET /account/delete: deleting an account without the app [${kind}]`, function () {
    this.timeout(90_000);
    let stack: TestStack;
    let api: ApiClient;

    before(async () => {
      stack = await startStack(kind);
      api = new ApiClient(stack.url);
    });
    after(async () => {
      await stack?.stop();
    });

    describe('in headless Chromium with JavaScript off (skipped where Chromium is not installed)', () => {
      let browser: BrowserContext | undefined;
      let profile: string | undefined;
      before(async function () {
        if (!fs.existsSync(CHROMIUM)) return this.skip(); // no Chromium at CHROMIUM_PATH or /usr/bin/chromium
        profile = fs.mkdtempSync(path.join(os.tmpdir(), 'glimpse-chromium-'));
        browser = await chromium.launchPersistentContext(profile, {
          executablePath: CHROMIUM,
          headless: true,
          args: CHROMIUM_ARGS,
          javaScriptEnabled: false,
          viewport: { width: 390, height: 844 },
        });
      });
      after(async () => {
        await browser?.close();
        if (profile) fs.rmSync(profile, { recursive: true, force: true });
      });

      it('number, SMS code, deleted: a locked account goes with the code alone, and its pending image with it', async () => {
        const owner = await registerUser(api);
        const sender = await registerUser(api);
        await api.gql('mutation { setRegistrationLock(pin: "97531864") { registrationLock } }', {}, owner.token);
        const sent = await api.sendImage(sender.token, owner.uid, jpegBytes(3000));
        expect(await stack.blobNames()).to.include(sent.data!.sendImage.messageKey);

        const page = await browser!.newPage();
        const problems: string[] = [];
        // What the page's policy refused, if anything (the wrong code's 400 is logged too, and expected).
        page.on('console', (m) => /Content Security Policy|Refused/i.test(m.text()) && problems.push(m.text()));
        page.on('pageerror', (e) => problems.push(e.message));
        const first = await page.goto(`${stack.url}/account/delete`);
        expect(first!.status()).to.equal(200);
        expect(first!.headers()['content-security-policy']).to.contain("form-action 'self'");
        expect(await page.title()).to.equal('Delete your Glimpse account');
        expect(await page.locator('meta[name=viewport]').getAttribute('content')).to.contain('width=device-width');
        // The inline style is allowed by the page's policy (a blocked one leaves the button unstyled).
        expect(
          await page
            .locator('button[type=submit]')
            .evaluate(
              (b) =>
                (globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } }).getComputedStyle(b)
                  .backgroundColor,
            ),
        ).to.equal('rgb(27, 27, 27)');

        await page.fill('#regionNum', owner.regionNum);
        await page.fill('#phoneNum', owner.phoneNum);
        await Promise.all([page.waitForNavigation(), page.click('text=Send code')]);
        expect(await page.locator('main p').first().innerText()).to.contain(`+${owner.regionNum} ${owner.phoneNum}`);
        const code = smsInboxFor(stack.url)!.lastCodeFor(owner.phoneNum)!;

        // A wrong code: the same step again, with the reason.
        await page.fill('#code', code === '000000' ? '000001' : '000000');
        await page.check('input[name=confirm]');
        const wrong = await Promise.all([page.waitForNavigation(), page.click('text=Delete my account')]);
        expect(wrong[0]!.status()).to.equal(400);
        expect(await page.locator('.error').innerText()).to.contain('The verification code is wrong');

        await page.fill('#code', code);
        await page.check('input[name=confirm]');
        const done = await Promise.all([page.waitForNavigation(), page.click('text=Delete my account')]);
        expect(done[0]!.status()).to.equal(200);
        expect(await page.locator('h1').innerText()).to.equal('Your account is deleted');
        expect(problems).to.deep.equal([]);
        await page.close();

        expect((await api.gql('{ me { uid } }', {}, owner.token)).errors![0].extensions!.code).to.equal('UNAUTHENTICATED');
        expect(await stack.server.container.db.getRepository(User).findOneBy({ uid: owner.uid })).to.equal(null);
        expect(await stack.blobNames()).not.to.include(sent.data!.sendImage.messageKey);
      });
    });

    it('a POST without its form token, or without the cookie it belongs to, is refused with 403 and does nothing', async () => {
      const owner = await registerUser(api);
      const form = await openForm(stack.url);
      expect(form.cookie).to.match(/^glimpse_delete_form=/);
      const fields = { step: 'request', regionNum: owner.regionNum, phoneNum: owner.phoneNum };
      const inbox = smsInboxFor(stack.url)!;
      const before = inbox.lastCodeFor(owner.phoneNum);
      for (const [what, res] of [
        ['no token', await post(stack.url, fields, form.cookie)],
        ['no cookie', await post(stack.url, { ...fields, form_token: form.token })],
        [
          'a token of another cookie',
          await post(stack.url, { ...fields, form_token: form.token }, 'glimpse_delete_form=' + 'A'.repeat(43)),
        ],
        ['a changed token', await post(stack.url, { ...fields, form_token: form.token.slice(0, -2) + 'AA' }, form.cookie)],
      ] as const) {
        expect(res.status, what).to.equal(403);
        expect(await res.text(), what).to.contain('nothing was done');
      }
      expect(inbox.lastCodeFor(owner.phoneNum)).to.equal(before);
      const accepted = await post(stack.url, { ...fields, form_token: form.token }, form.cookie);
      expect(accepted.status).to.equal(200);
      expect(inbox.lastCodeFor(owner.phoneNum)).not.to.equal(before);
      // Whoever holds the code but posts it without the form's token deletes nothing.
      const code = inbox.lastCodeFor(owner.phoneNum)!;
      const forged = await post(
        stack.url,
        { step: 'delete', regionNum: owner.regionNum, phoneNum: owner.phoneNum, code, confirm: 'yes' },
        form.cookie,
      );
      expect(forged.status).to.equal(403);
      expect((await api.gql('{ me { uid } }', {}, owner.token)).data!.me.uid).to.equal(owner.uid);
    });

    it('escapes every value it shows back, and says when a number has no account', async () => {
      const form = await openForm(stack.url);
      expect(form.body).to.contain('<meta name="viewport"');
      const hostile = '"><script>alert(1)</script>';
      const res = await post(stack.url, { step: 'request', regionNum: '86', phoneNum: hostile, form_token: form.token }, form.cookie);
      expect(res.status).to.equal(400);
      const body = await res.text();
      expect(body).not.to.contain('<script>');
      expect(body).to.contain('&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;');
      expect(body).to.contain('phoneNum must be a national phone number');

      const nobody = { regionNum: '86', phoneNum: '13712340000' };
      expect((await post(stack.url, { step: 'request', ...nobody, form_token: form.token }, form.cookie)).status).to.equal(200);
      const code = smsInboxFor(stack.url)!.lastCodeFor(nobody.phoneNum)!;
      const done = await post(stack.url, { step: 'delete', ...nobody, code, confirm: 'yes', form_token: form.token }, form.cookie);
      expect(done.status).to.equal(200);
      expect(await done.text()).to.contain('No Glimpse account uses <strong>+8613712340000</strong>');
    });
  });
}
