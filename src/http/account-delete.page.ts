import { createHash } from 'node:crypto';

/**
 * The HTML of the account deletion page: plain forms that work without JavaScript, readable on a
 * phone. Every value is escaped where it is put in (the `html` tag); only fragments this module
 * built itself are put in as they are.
 */

/** Markup that is put in without escaping: only what `html` itself made. */
class Markup {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/** A template tag that escapes every interpolated value, except Markup (and arrays of it). */
function html(strings: TemplateStringsArray, ...values: unknown[]): Markup {
  let out = strings[0];
  values.forEach((v, i) => {
    const parts = Array.isArray(v) ? v : [v];
    out +=
      parts.map((p) => (p instanceof Markup ? p.text : p == null || p === false ? '' : escapeHtml(String(p)))).join('') + strings[i + 1];
  });
  return new Markup(out);
}

const STYLE = `
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;padding:1rem;background:#f6f6f6;color:#1b1b1b}
main{max-width:28rem;margin:0 auto;background:#fff;padding:1.25rem;border-radius:.75rem;box-shadow:0 1px 3px rgba(0,0,0,.12)}
h1{font-size:1.35rem;margin:.2rem 0 1rem}
label{display:block;margin:.8rem 0 .25rem;font-weight:600}
input[type=text],input[type=tel]{box-sizing:border-box;width:100%;padding:.6rem;font-size:1.1rem;border:1px solid #888;border-radius:.4rem}
.row{display:flex;gap:.5rem}.row .cc{flex:0 0 5.5rem}.row .nn{flex:1}
.check{display:flex;gap:.5rem;align-items:flex-start;font-weight:400}
button{margin-top:1rem;width:100%;padding:.75rem;font-size:1.05rem;border:0;border-radius:.4rem;background:#1b1b1b;color:#fff}
button.danger{background:#b00020}button.link{background:none;color:#1b1b1b;text-decoration:underline;margin-top:.5rem;padding:.25rem}
.error{background:#fdecea;color:#8a1c1c;padding:.6rem;border-radius:.4rem}
.note{color:#555;font-size:.9rem}
`;

/** The CSP source that allows exactly this page's inline style and nothing else. */
export const PAGE_STYLE_SOURCE = `'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`;

/** Built apart from the page's markup: the element's text must be exactly what was hashed. */
const STYLE_ELEMENT = new Markup(`<style>${STYLE}</style>`);

export const DELETE_PATH = '/account/delete';

function page(title: string, body: Markup): string {
  return `<!doctype html>${html`<html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <meta name="robots" content="noindex" />
      <title>${title}</title>
      ${STYLE_ELEMENT}
    </head>
    <body>
      <main>
        <h1>${title}</h1>
        ${body}
      </main>
    </body>
  </html>`}`;
}

const errorBox = (error?: string) => (error ? html`<p class="error" role="alert">${error}</p>` : '');

export interface NumberStep {
  formToken: string;
  regionNum?: string;
  phoneNum?: string;
  error?: string;
}

/** Step one: the phone number the account was registered with. */
export function numberPage(s: NumberStep): string {
  return page(
    'Delete your Glimpse account',
    html`<p>Enter the phone number of your account. We will send a code to it by SMS.</p>
      ${errorBox(s.error)}
      <form method="post" action="${DELETE_PATH}">
        <input type="hidden" name="form_token" value="${s.formToken}" /><input type="hidden" name="step" value="request" />
        <div class="row">
          <div class="cc">
            <label for="regionNum">Country code</label
            ><input
              type="tel"
              id="regionNum"
              name="regionNum"
              value="${s.regionNum ?? '86'}"
              required
              autocomplete="tel-country-code"
              inputmode="numeric"
            />
          </div>
          <div class="nn">
            <label for="phoneNum">Phone number</label
            ><input
              type="tel"
              id="phoneNum"
              name="phoneNum"
              value="${s.phoneNum ?? ''}"
              required
              autocomplete="tel-national"
              inputmode="tel"
            />
          </div>
        </div>
        <button type="submit">Send code</button>
      </form>
      <p class="note">Deleting removes your account and everything in it for good, at once. You can also delete it in the Glimpse app.</p>`,
  );
}

export interface CodeStep {
  formToken: string;
  regionNum: string;
  phoneNum: string;
  error?: string;
}

/** Step two: the code that was sent, and a last word on what deletion does. */
export function codePage(s: CodeStep): string {
  const number = `+${s.regionNum} ${s.phoneNum}`;
  return page(
    'Delete your Glimpse account',
    html`<p>We sent a 6-digit code to <strong>${number}</strong>. It works for 10 minutes.</p>
      ${errorBox(s.error)}
      <form method="post" action="${DELETE_PATH}">
        <input type="hidden" name="form_token" value="${s.formToken}" /><input type="hidden" name="step" value="delete" />
        <input type="hidden" name="regionNum" value="${s.regionNum}" /><input type="hidden" name="phoneNum" value="${s.phoneNum}" />
        <label for="code">Code</label
        ><input
          type="text"
          id="code"
          name="code"
          required
          autocomplete="one-time-code"
          inputmode="numeric"
          pattern="[0-9]{6}"
          maxlength="6"
        />
        <label class="check"
          ><input type="checkbox" name="confirm" value="yes" required /> I understand that my account, friends, groups and images are
          deleted for good.</label
        >
        <button type="submit" class="danger">Delete my account</button>
      </form>
      <form method="post" action="${DELETE_PATH}">
        <input type="hidden" name="form_token" value="${s.formToken}" /><input type="hidden" name="step" value="request" />
        <input type="hidden" name="regionNum" value="${s.regionNum}" /><input type="hidden" name="phoneNum" value="${s.phoneNum}" />
        <button type="submit" class="link">Send a new code</button>
      </form>`,
  );
}

/** The end: what happened to the number's account. */
export function donePage(deleted: boolean, e164: string): string {
  return page(
    deleted ? 'Your account is deleted' : 'No account to delete',
    deleted
      ? html`<p>
            The Glimpse account of <strong>${e164}</strong> and everything in it are deleted. Images sent to it can no longer be opened, and
            their senders have been told.
          </p>
          <p class="note">Registering this number again later makes a new, empty account.</p>`
      : html`<p>No Glimpse account uses <strong>${e164}</strong>, so there was nothing to delete.</p>`,
  );
}

/** The form was not sent by this page (no or wrong form token). */
export function refusedPage(): string {
  return page(
    'Please start again',
    html`<p class="error" role="alert">This form has expired or did not come from this page, so nothing was done.</p>
      <p><a href="${DELETE_PATH}">Open the deletion page again</a></p>`,
  );
}
