import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { AccountService } from '../../src/services/account.service';
import { FakeUserRepository } from '../support/fakes';

describe('AccountService (unit)', () => {
  const now = new Date('2026-01-02T03:04:05.000Z');
  let users: FakeUserRepository;
  let accounts: AccountService;
  const input = { cid: 'cid-1', regionNum: '86', phoneNum: '139 1234 5678', nickname: ' Ann ' };

  beforeEach(() => {
    users = new FakeUserRepository();
    accounts = new AccountService(users, () => now);
  });

  it('stores only a SHA-256 of the ukey and the normalised phone', async () => {
    const r = await accounts.register(input);
    const row = users.rows[0];
    expect(row.ukeyHash).to.equal(createHash('sha256').update(r.ukey).digest('hex'));
    expect(row).to.include({ regionNum: '86', phoneNum: '13912345678', nickname: 'Ann', cid: 'cid-1' });
    expect(r.phoneHash).to.equal(createHash('sha256').update('+8613912345678').digest('hex'));
    expect(row.regTime).to.equal(now);
  });

  it('authenticates the current ukey only, and nothing after a move to another device', async () => {
    const first = await accounts.register(input);
    expect((await accounts.authenticate(`Bearer ${first.phoneHash}.${first.ukey}`))?.uid).to.equal(first.uid);
    const second = await accounts.register({ ...input, cid: 'cid-2' });
    expect(second.uid).to.equal(first.uid);
    expect(await accounts.authenticate(`Bearer ${first.phoneHash}.${first.ukey}`)).to.equal(null);
    expect((await accounts.authenticate(`Bearer ${second.phoneHash}.${second.ukey}`))?.cid).to.equal('cid-2');
  });

  it('treats malformed headers as no token', async () => {
    const r = await accounts.register(input);
    for (const h of [undefined, '', 'Bearer', `Basic ${r.phoneHash}.${r.ukey}`, `Bearer ${r.phoneHash}`, `Bearer ${r.phoneHash}.${r.ukey}x`, `Bearer ${r.phoneHash.toUpperCase()}.${r.ukey}`]) {
      expect(await accounts.authenticate(h), String(h)).to.equal(null);
    }
  });

  it('refuses bad input with BAD_USER_INPUT naming the field', async () => {
    for (const [patch, field] of [
      [{ phoneNum: '1' }, 'phoneNum'],
      [{ regionNum: 'x' }, 'regionNum'],
      [{ nickname: '' }, 'nickname'],
      [{ cid: 'has space' }, 'cid'],
    ] as const) {
      const e = await accounts.register({ ...input, ...patch }).then(() => null, (err) => err);
      expect(e?.extensions, JSON.stringify(patch)).to.deep.equal({ code: 'BAD_USER_INPUT', field });
    }
    expect(users.rows).to.have.length(0);
  });
});
