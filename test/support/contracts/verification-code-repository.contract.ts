import { expect } from 'chai';
import { createHash } from 'node:crypto';
import type { NewVerificationCode } from '../../../src/repositories/verification-code.repository';
import { at, T0, useWorld, WorldFactory } from './world';

let phones = 0;
const hash = (s: string) => createHash('sha256').update(s).digest('hex');
const aCode = (code = '123456', expiresAt = at(600), phoneHash = hash(`phone ${++phones}`)): NewVerificationCode => ({
  phoneHash,
  codeHash: hash(code),
  sentAt: T0,
  expiresAt,
});

/** What VerificationService relies on from a VerificationCodeRepository. */
export function verificationCodeRepositoryContract(make: WorldFactory): void {
  describe('VerificationCodeRepository', () => {
    const w = useWorld(make);

    it('keeps one code per phone: replace stores a fresh one whose tries and use start over', async () => {
      const code = aCode();
      await w.codes.replace(code);
      const stored = (await w.codes.findByPhoneHash(code.phoneHash))!;
      expect(stored).to.include({ phoneHash: code.phoneHash, codeHash: code.codeHash, attempts: 0, usedAt: null });
      expect(stored.expiresAt.getTime()).to.equal(at(600).getTime());
      await w.codes.countWrongTry(stored.id, 5);
      expect(await w.codes.claim(stored.id, code.codeHash, 5, at(1))).to.equal(true);

      const fresh = { ...aCode('654321', at(900), code.phoneHash), sentAt: at(2) };
      await w.codes.replace(fresh);
      const replaced = (await w.codes.findByPhoneHash(code.phoneHash))!;
      expect(replaced).to.include({ codeHash: fresh.codeHash, attempts: 0, usedAt: null });
      expect(replaced.sentAt.getTime()).to.equal(at(2).getTime());
      expect(await w.codes.claim(replaced.id, code.codeHash, 5, at(3))).to.equal(false);
      expect(await w.codes.claim(replaced.id, fresh.codeHash, 5, at(3))).to.equal(true);
      expect(await w.codes.findByPhoneHash(hash('nobody'))).to.equal(null);
    });

    it('claim succeeds once, for the right code while it lives and has tries left', async () => {
      const [once, expired, burnt] = [aCode(), aCode('123456', at(10)), aCode()];
      for (const c of [once, expired, burnt]) await w.codes.replace(c);
      const id = async (c: NewVerificationCode) => (await w.codes.findByPhoneHash(c.phoneHash))!.id;
      expect(await w.codes.claim(await id(once), hash('000000'), 5, at(1))).to.equal(false);
      expect(await w.codes.claim(await id(once), once.codeHash, 5, at(1))).to.equal(true);
      expect(await w.codes.claim(await id(once), once.codeHash, 5, at(2))).to.equal(false);
      expect((await w.codes.findByPhoneHash(once.phoneHash))!.usedAt!.getTime()).to.equal(at(1).getTime());
      expect(await w.codes.claim(await id(expired), expired.codeHash, 5, at(10))).to.equal(false);
      for (let i = 0; i < 3; i++) expect(await w.codes.countWrongTry(await id(burnt), 3)).to.equal(true);
      expect(await w.codes.countWrongTry(await id(burnt), 3)).to.equal(false);
      expect((await w.codes.findByPhoneHash(burnt.phoneHash))!.attempts).to.equal(3);
      expect(await w.codes.claim(await id(burnt), burnt.codeHash, 3, at(1))).to.equal(false);
      expect(await w.codes.claim(await id(burnt), burnt.codeHash, 4, at(1))).to.equal(true);
    });

    it('remove takes the code away only while it is still the given one', async () => {
      const code = aCode();
      await w.codes.replace(code);
      await w.codes.remove(code.phoneHash, hash('other'));
      expect(await w.codes.findByPhoneHash(code.phoneHash)).to.not.equal(null);
      await w.codes.remove(code.phoneHash, code.codeHash);
      expect(await w.codes.findByPhoneHash(code.phoneHash)).to.equal(null);
    });

    it('deleteExpired forgets up to limit codes that expired before the given time', async () => {
      const codes = [aCode('1', at(10)), aCode('2', at(20)), aCode('3', at(30)), aCode('4', at(100))];
      for (const c of codes) await w.codes.replace(c);
      expect(await w.codes.deleteExpired(at(30), 1)).to.equal(1);
      expect(await w.codes.deleteExpired(at(30), 10)).to.equal(1);
      expect(await w.codes.deleteExpired(at(30), 10)).to.equal(0);
      const left = await Promise.all(codes.map((c) => w.codes.findByPhoneHash(c.phoneHash)));
      expect(left.map((c) => c !== null)).to.deep.equal([false, false, true, true]);
    });
  });
}
