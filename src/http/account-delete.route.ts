import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import express, { Request, Response, Router } from 'express';
import { AppError, httpStatusOf, RateLimitedError } from '../errors';
import type { Logger } from '../logger';
import type { AccountLifecycleService } from '../services/account-lifecycle.service';
import type { VerificationService } from '../services/verification.service';
import { codePage, DELETE_PATH, donePage, numberPage, refusedPage } from './account-delete.page';

/** The cookie that holds the form nonce; the form carries its HMAC (a signed double submit). */
const COOKIE = 'glimpse_delete_form';
const NONCE = /^[A-Za-z0-9_-]{43}$/;

/**
 * GET/POST /account/delete: deleting an account without the app (phone number, SMS code, done),
 * with the same code rules and limits as register. Every POST must carry the form token of the
 * nonce in its SameSite=Strict cookie; anything else is refused with 403 before it is read.
 */
export function accountDeleteRoute(deps: {
  lifecycle: Pick<AccountLifecycleService, 'deleteByPhone'>;
  verification: Pick<VerificationService, 'request'>;
  /** Keys the form tokens (a server secret, the same on every instance). */
  secret: Buffer;
  log: Logger;
}): Router {
  const router = express.Router();
  const tokenOf = (nonce: string) => createHmac('sha256', deps.secret).update(`account-delete|${nonce}`).digest('base64url');

  /** The request's nonce when its cookie holds one, else a new one, set in the cookie again. */
  const formToken = (req: Request, res: Response): string => {
    const existing = cookieValue(req, COOKIE);
    const nonce = existing && NONCE.test(existing) ? existing : randomBytes(32).toString('base64url');
    const secure = req.secure ? '; Secure' : '';
    res.setHeader('Set-Cookie', `${COOKIE}=${nonce}; Path=${DELETE_PATH}; Max-Age=3600; HttpOnly; SameSite=Strict${secure}`);
    return tokenOf(nonce);
  };
  const send = (res: Response, status: number, body: string) => {
    res.status(status).setHeader('Cache-Control', 'no-store').type('html').send(body);
  };

  router.get(DELETE_PATH, (req, res) => send(res, 200, numberPage({ formToken: formToken(req, res) })));

  router.post(DELETE_PATH, express.urlencoded({ extended: false, limit: '4kb', parameterLimit: 10 }), async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const nonce = cookieValue(req, COOKIE);
    if (!nonce || !NONCE.test(nonce) || !sameText(field(body, 'form_token'), tokenOf(nonce))) return send(res, 403, refusedPage());
    const formToken = tokenOf(nonce);
    const regionNum = field(body, 'regionNum').trim();
    const phoneNum = field(body, 'phoneNum').trim();
    const step = field(body, 'step');
    if (step === 'request') {
      try {
        await deps.verification.request(regionNum, phoneNum, req.ip);
        return send(res, 200, codePage({ formToken, regionNum, phoneNum }));
      } catch (e) {
        return failed(res, e, (error) => numberPage({ formToken, regionNum, phoneNum, error }));
      }
    }
    if (step === 'delete') {
      if (field(body, 'confirm') !== 'yes') {
        return send(
          res,
          400,
          codePage({ formToken, regionNum, phoneNum, error: 'Tick the box to confirm that the account is to be deleted.' }),
        );
      }
      try {
        const done = await deps.lifecycle.deleteByPhone(regionNum, phoneNum, field(body, 'code'), req.ip);
        return send(res, 200, donePage(done.deleted, done.e164));
      } catch (e) {
        return failed(res, e, (error) => codePage({ formToken, regionNum, phoneNum, error }));
      }
    }
    return send(res, 400, numberPage({ formToken, regionNum, phoneNum, error: 'Something was missing from the form; please try again.' }));
  });

  /** An error shown on the page it came from, with the status the API would answer. */
  function failed(res: Response, e: unknown, render: (error: string) => string) {
    if (!(e instanceof AppError) || e.code === 'INTERNAL_SERVER_ERROR') {
      if (!(e instanceof AppError)) deps.log.error({ err: e }, 'account deletion page failed');
      return send(res, 500, render(e instanceof AppError ? e.message : 'Something went wrong on our side; please try again later.'));
    }
    if (e instanceof RateLimitedError) res.setHeader('Retry-After', String(e.retryAfterSeconds));
    return send(res, httpStatusOf[e.code], render(e.message));
  }

  return router;
}

function field(body: Record<string, unknown>, name: string): string {
  const v = body[name];
  return typeof v === 'string' ? v : '';
}

function cookieValue(req: Request, name: string): string | null {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
