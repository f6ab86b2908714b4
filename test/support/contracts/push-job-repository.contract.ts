import { expect } from 'chai';
import type { NewPushJob, OutboxRow } from '../../../src/repositories/push-job.repository';
import { at, aUser, newImage, someUsers, T0, useWorld, WorldFactory } from './world';

const job = (receiverUid: number, kind = 'image', cid: string | null = null): NewPushJob => ({
  receiverUid,
  cid,
  kind,
  payload: `{"k":"${kind}"}`,
  expiresAt: null,
});
const MINUTE = 60_000;

/** What the push dispatcher, the retention pruner and the realtime feed rely on from a PushJobRepository. */
export function pushJobRepositoryContract(make: WorldFactory): void {
  describe('PushJobRepository', () => {
    const w = useWorld(make);

    it('enqueue writes pending jobs due now, each with its own id and request id', async () => {
      const bob = await aUser(w);
      const rows = await w.pushJobs.enqueue([job(bob.uid, 'a'), job(bob.uid, 'b', 'old-device')], T0);
      expect(rows.map((r) => [r.kind, r.status, r.attempts, r.cid])).to.deep.equal([
        ['a', 'pending', 0, null],
        ['b', 'pending', 0, 'old-device'],
      ]);
      expect(rows[1].id).to.be.greaterThan(rows[0].id);
      expect(rows[0].requestId).to.not.equal(rows[1].requestId);
      for (const r of rows) expect(r.requestId).to.match(/^[0-9a-zA-Z]{10,32}$/);
      expect(rows[0].nextAttemptAt.getTime()).to.equal(T0.getTime());
      expect(await w.pushJobs.lastId()).to.equal(rows[1].id);
    });

    it("claimDue takes due jobs once per lease, with the receiver's cid as it is now (a job's own cid first)", async () => {
      const bob = await aUser(w);
      const [a, b] = await w.pushJobs.enqueue([job(bob.uid, 'a'), job(bob.uid, 'b', 'old-device')], T0);
      const [later] = await w.pushJobs.enqueue([job(bob.uid, 'later')], at(100));
      await w.users.updateCid(bob.uid, 'current-device', at(1));
      const claimed = await w.pushJobs.claimDue(at(10), 10, MINUTE);
      expect(claimed.map((c) => [c.job.id, c.cid]).sort()).to.deep.equal(
        [
          [a.id, 'current-device'],
          [b.id, 'old-device'],
        ].sort(),
      );
      for (const { job: j } of claimed) {
        expect(j).to.include({ status: 'sending', attempts: 1 });
        expect(j.leaseToken).to.be.a('string');
        expect(j.lockedUntil!.getTime()).to.equal(at(70).getTime());
      }
      expect(await w.pushJobs.claimDue(at(20), 10, MINUTE)).to.deep.equal([]);
      // The lease ran out (its dispatcher died): another takes it over, with a new token.
      const again = await w.pushJobs.claimDue(at(71), 1, MINUTE);
      expect(again).to.have.length(1);
      expect(again[0].job.attempts).to.equal(2);
      expect(claimed.map((c) => c.job.leaseToken)).not.to.include(again[0].job.leaseToken);
      expect((await w.pushJobs.claimDue(at(101), 10, MINUTE)).map((c) => c.job.id).sort()).to.deep.equal(
        [later.id, ...claimed.map((c) => c.job.id).filter((id) => id !== again[0].job.id)].sort(),
      );
    });

    it('record keeps the outcome of a claim that still holds, and only of such a claim', async () => {
      const bob = await aUser(w);
      await w.pushJobs.enqueue([job(bob.uid, 'a'), job(bob.uid, 'b'), job(bob.uid, 'c')], T0);
      const claims = (await w.pushJobs.claimDue(at(1), 10, MINUTE)).sort((x, y) => x.job.id - y.job.id);
      const [a, b, c] = claims.map((x) => x.job);
      expect(await w.pushJobs.record(a, { status: 'sent' }, at(2))).to.equal(true);
      expect(await w.pushJobs.record(a, { status: 'failed', error: 'late' }, at(3))).to.equal(false);
      expect(await w.pushJobs.record(b, { status: 'pending', nextAttemptAt: at(30), error: 'x'.repeat(600) }, at(2))).to.equal(true);
      expect(await w.pushJobs.record({ ...c, leaseToken: 'not-the-lease' }, { status: 'sent' }, at(2))).to.equal(false);
      expect(await w.pushJobs.record(c, { status: 'skipped', error: 'no device' }, at(2))).to.equal(true);
      // The retry is not due before its time, and then it is.
      expect(await w.pushJobs.claimDue(at(29), 10, MINUTE)).to.deep.equal([]);
      const retry = await w.pushJobs.claimDue(at(30), 10, MINUTE);
      expect(retry.map((r) => [r.job.id, r.job.attempts])).to.deep.equal([[b.id, 2]]);
      expect(retry[0].job.lastError).to.have.length.of.at.most(512);
    });

    it('recordSent records many claimed jobs at once and counts those whose claim still held', async () => {
      const bob = await aUser(w);
      await w.pushJobs.enqueue([job(bob.uid), job(bob.uid), job(bob.uid)], T0);
      const first = (await w.pushJobs.claimDue(at(1), 2, MINUTE)).map((c) => c.job);
      const second = (await w.pushJobs.claimDue(at(1), 2, MINUTE)).map((c) => c.job);
      expect(first).to.have.length(2);
      expect(second).to.have.length(1);
      expect(await w.pushJobs.recordSent([...first, ...second], at(2))).to.equal(3);
      expect(await w.pushJobs.recordSent(first, at(3))).to.equal(0);
      expect(await w.pushJobs.backlog(at(4))).to.deep.equal({ pending: 0, oldestDueAt: null });
    });

    it('backlog counts undelivered jobs and finds the longest-due one', async () => {
      const bob = await aUser(w);
      expect(await w.pushJobs.backlog(T0)).to.deep.equal({ pending: 0, oldestDueAt: null });
      await w.pushJobs.enqueue([job(bob.uid)], at(5));
      await w.pushJobs.enqueue([job(bob.uid)], at(10));
      await w.pushJobs.enqueue([job(bob.uid)], at(50));
      expect(await w.pushJobs.backlog(T0)).to.deep.equal({ pending: 3, oldestDueAt: null });
      expect(await w.pushJobs.backlog(at(20))).to.deep.equal({ pending: 3, oldestDueAt: at(5) });
      const [claimed] = await w.pushJobs.claimDue(at(20), 1, MINUTE);
      expect((await w.pushJobs.backlog(at(20))).pending).to.equal(3);
      await w.pushJobs.record(claimed.job, { status: 'sent' }, at(21));
      expect((await w.pushJobs.backlog(at(200))).pending).to.equal(2);
    });

    it('deleteFinishedBefore deletes finished jobs by the time of their outcome, never pending or sending ones', async () => {
      const bob = await aUser(w);
      await w.pushJobs.enqueue([job(bob.uid), job(bob.uid), job(bob.uid), job(bob.uid)], T0);
      const claims = (await w.pushJobs.claimDue(at(1), 3, MINUTE)).map((c) => c.job);
      await w.pushJobs.record(claims[0], { status: 'sent' }, at(2));
      await w.pushJobs.record(claims[1], { status: 'failed', error: 'gone' }, at(10));
      expect(await w.pushJobs.deleteFinishedBefore(at(100), 10)).to.equal(2);
      expect(await w.pushJobs.deleteFinishedBefore(at(100), 10)).to.equal(0);
      expect((await w.pushJobs.backlog(at(1))).pending).to.equal(2);
      const left = await w.pushJobs.listForReceivers(0, [bob.uid], 10);
      expect(left).to.have.length(2);
      expect(left.filter((r) => r.id === claims[0].id || r.id === claims[1].id)).to.deep.equal([]);
    });

    it('listForReceivers answers the jobs after an id for any of the receivers, oldest first, at most limit', async () => {
      const [bob, carol, dave] = await someUsers(w, 3);
      const rows = await w.pushJobs.enqueue([job(bob.uid, '1'), job(carol.uid, '2'), job(dave.uid, '3'), job(bob.uid, '4')], T0);
      const kinds = (list: OutboxRow[]) => list.map((r) => r.kind);
      expect(kinds(await w.pushJobs.listForReceivers(0, [bob.uid, dave.uid], 10))).to.deep.equal(['1', '3', '4']);
      expect(kinds(await w.pushJobs.listForReceivers(rows[0].id, [bob.uid, dave.uid], 1))).to.deep.equal(['3']);
      expect(await w.pushJobs.listForReceivers(0, [], 10)).to.deep.equal([]);
      expect(await w.pushJobs.lastId()).to.equal(rows[3].id);
    });

    it('onCommitted hears the jobs every repository writes, once written', async () => {
      const [bob, carol] = await someUsers(w, 2);
      const heard: OutboxRow[] = [];
      w.pushJobs.onCommitted((rows) => heard.push(...rows.filter((r) => r.receiverUid === bob.uid || r.receiverUid === carol.uid)));
      const [row] = await w.pushJobs.enqueue([job(bob.uid, 'direct')], T0);
      await w.messages.createImageWithMessages(
        newImage(),
        [{ messageKey: 'k'.repeat(64), senderUid: bob.uid, receiverUid: carol.uid, sendTime: T0 }],
        (m) => job(m.receiverUid, 'image'),
      );
      expect(heard.map((r) => [r.receiverUid, r.kind])).to.deep.equal([
        [bob.uid, 'direct'],
        [carol.uid, 'image'],
      ]);
      expect(heard[0].id).to.equal(row.id);
      const [written] = await w.pushJobs.listForReceivers(0, [carol.uid], 10);
      expect(heard[1].id).to.equal(written.id);
    });
  });
}
