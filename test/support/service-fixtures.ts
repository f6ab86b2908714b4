import { expect } from 'chai';
import type { RateLimiter } from '../../src/adapters/rate-limiter';
import { createLogger } from '../../src/logger';
import { VerificationService } from '../../src/services/verification.service';
import { FakeSmsProvider, FakeVerificationCodeRepository } from './fakes';

/**
 * Set-ups the unit tests of several services share (no I/O): the verification step that
 * registering, moving and changing a number all go through.
 */

/** Codes over a fresh fake store, sent through `sms` (its lastCode() is the code), on the test's clock. */
export function fakeVerification(sms: FakeSmsProvider, limiter: RateLimiter, clock: () => Date): VerificationService {
  return new VerificationService(
    new FakeVerificationCodeRepository(),
    sms,
    limiter,
    { codeTtlSeconds: 600, maxAttempts: 5, testNumbers: new Map(), codeSecret: Buffer.alloc(32, 1) },
    createLogger('silent'),
    clock,
  );
}

/** The error `p` fails with; the test fails when `p` succeeds. */
export function rejection(p: Promise<unknown>): Promise<any> {
  return p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e) => e,
  );
}

/** The `extensions` (code, field, ...) of the GraphQL error `p` fails with. */
export async function failure<T = Record<string, unknown>>(p: Promise<unknown>): Promise<T> {
  const e = await p.then(
    () => null,
    (err) => err,
  );
  expect(e, 'expected a failure').not.to.equal(null);
  if (!e.extensions) throw e;
  return e.extensions;
}
