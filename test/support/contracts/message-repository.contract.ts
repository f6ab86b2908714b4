import { expect } from 'chai';
import { anImage, at, newImage, pushesTo, receipts, receiptsTo, someUsers, T0, useWorld, WorldFactory } from './world';

/** What ImageService, LifecycleService and RetentionService rely on from a MessageRepository. */
export function messageRepositoryContract(make: WorldFactory): void {
  describe('MessageRepository', () => {
    const w = useWorld(make);

    it('createImageWithMessages stores the image, one live message per receiver and their pushes; a born-ended one gets none', async () => {
      const [alice, bob, carol, dave] = await someUsers(w, 4);
      const sent = await anImage(w, alice, [bob, carol, dave], { blocked: [dave] });
      expect(sent.map((m) => m.receiverUid)).to.deep.equal([bob.uid, carol.uid, dave.uid]);
      expect(new Set(sent.map((m) => m.id)).size).to.equal(3);
      expect(new Set(sent.map((m) => m.imageId)).size).to.equal(1);
      expect(sent.map((m) => [m.exist, m.endReason])).to.deep.equal([
        [true, null],
        [true, null],
        [false, 'blocked'],
      ]);
      for (const [who, m] of [
        [bob, sent[0]],
        [carol, sent[1]],
      ] as const) {
        expect((await pushesTo(w, who.uid)).map((p) => JSON.parse(p.payload))).to.deep.equal([{ message_id: m.id }]);
      }
      expect(await pushesTo(w, dave.uid)).to.deep.equal([]);
      const found = (await w.messages.findByKey(sent[0].messageKey))!;
      expect(found).to.include({
        id: sent[0].id,
        senderUid: alice.uid,
        receiverUid: bob.uid,
        groupId: null,
        downloadedAt: null,
        screenshotAt: null,
      });
      expect(found.sender.uid).to.equal(alice.uid);
      expect(found.image).to.include({
        objectName: sent[0].image.objectName,
        filetype: 'image/jpeg',
        size: 1234,
        endedAt: null,
        blobDeletedAt: null,
      });
    });

    it('an image stored as discarded is over at once: its messages are born ended and it has no key', async () => {
      const [alice, bob] = await someUsers(w, 2);
      const [m] = await w.messages.createImageWithMessages(
        newImage(T0, 3600, { discarded: true }),
        [{ messageKey: 'd'.repeat(64), senderUid: alice.uid, receiverUid: bob.uid, sendTime: T0, endReason: 'blocked' }],
        () => null,
      );
      const found = (await w.messages.findByKey(m.messageKey))!;
      expect(found.image).to.include({ wrappedKey: null, sha256: null });
      expect(found.image.endedAt!.getTime()).to.equal(T0.getTime());
    });

    it('nothing is stored when a push cannot be built', async () => {
      const [alice, bob] = await someUsers(w, 2);
      const image = newImage();
      await w.messages
        .createImageWithMessages(image, [{ messageKey: 'e'.repeat(64), senderUid: alice.uid, receiverUid: bob.uid, sendTime: T0 }], () => {
          throw new Error('no push');
        })
        .then(
          () => expect.fail('stored'),
          (e: Error) => expect(e.message).to.equal('no push'),
        );
      expect(await w.messages.findByKey('e'.repeat(64))).to.equal(null);
      expect(await w.messages.listSent(alice.uid, 10)).to.deep.equal([]);
    });

    it("findForReceiver finds only the receiver's own message, never a born-ended one", async () => {
      const [alice, bob, carol] = await someUsers(w, 3);
      const [toBob, toCarol] = await anImage(w, alice, [bob, carol], { blocked: [carol] });
      expect((await w.messages.findForReceiver(toBob.messageKey, bob.uid))!.sender.uid).to.equal(alice.uid);
      expect(await w.messages.findForReceiver(toBob.messageKey, carol.uid)).to.equal(null);
      expect(await w.messages.findForReceiver(toCarol.messageKey, carol.uid)).to.equal(null);
      expect(await w.messages.findByKey(toCarol.messageKey)).to.include({ endReason: 'blocked' });
    });

    it('listPending: live, unexpired messages to the receiver, oldest first, by sender, none from someone the receiver blocked', async () => {
      const [alice, bob, carol, mallory] = await someUsers(w, 4);
      const [first] = await anImage(w, alice, [bob]);
      const [fromCarol] = await anImage(w, carol, [bob]);
      const [later] = await anImage(w, alice, [bob], { createdAt: at(5) });
      await anImage(w, alice, [bob], { ttlSeconds: 10 });
      await anImage(w, alice, [carol]);
      const [confirmed] = await anImage(w, alice, [bob]);
      await w.messages.endForReceiver(confirmed.messageKey, bob.uid, 'confirmed', at(1));
      await anImage(w, mallory, [bob]);
      await w.social.block(bob.uid, mallory.uid, at(2));
      const keys = async (sender?: string) => (await w.messages.listPending(bob.uid, at(30), sender)).map((m) => m.messageKey);
      expect(await keys()).to.deep.equal([first.messageKey, fromCarol.messageKey, later.messageKey]);
      expect(await keys(alice.phoneHash)).to.deep.equal([first.messageKey, later.messageKey]);
      const [listed] = await w.messages.listPending(bob.uid, at(30), carol.phoneHash);
      expect(listed.sender.uid).to.equal(carol.uid);
      expect(listed.image.objectName).to.equal(fromCarol.image.objectName);
    });

    it('endForReceiver ends the message once; the last live message of an image ends the image, destroys its key and writes receipts', async () => {
      const [alice, bob, carol] = await someUsers(w, 3);
      const [toBob, toCarol] = await anImage(w, alice, [bob, carol]);
      const first = await w.messages.endForReceiver(toBob.messageKey, bob.uid, 'confirmed', at(1), receipts);
      expect(first.message).to.include({ exist: false, endReason: 'confirmed' });
      expect(first.message!.endedAt!.getTime()).to.equal(at(1).getTime());
      expect(first.orphanedImage).to.equal(null);
      expect(await pushesTo(w, alice.uid)).to.deep.equal([]);

      const again = await w.messages.endForReceiver(toBob.messageKey, bob.uid, 'expired', at(2), receipts);
      expect(again.message).to.include({ endReason: 'confirmed' });
      expect(again.orphanedImage).to.equal(null);
      expect(await w.messages.endForReceiver(toBob.messageKey, carol.uid, 'confirmed', at(2), receipts)).to.deep.equal({
        message: null,
        orphanedImage: null,
      });

      const last = await w.messages.endForReceiver(toCarol.messageKey, carol.uid, 'expired', at(3), receipts);
      expect(last.orphanedImage).to.include({ id: toCarol.imageId, objectName: toCarol.image.objectName });
      const image = (await w.messages.findByKey(toCarol.messageKey))!.image;
      expect(image).to.include({ wrappedKey: null, keyId: null, sha256: null });
      expect(image.endedAt!.getTime()).to.equal(at(3).getTime());
      const got = await receiptsTo(w, alice.uid);
      expect(got).to.deep.equal([
        { id: toBob.id, reason: 'confirmed' },
        { id: toCarol.id, reason: 'expired' },
      ]);
    });

    it("recordScreenshot keeps the first report; null for a message that is not the viewer's", async () => {
      const [alice, bob] = await someUsers(w, 2);
      const [m] = await anImage(w, alice, [bob]);
      expect((await w.messages.recordScreenshot(m.messageKey, bob.uid, at(1)))!.screenshotAt!.getTime()).to.equal(at(1).getTime());
      expect((await w.messages.recordScreenshot(m.messageKey, bob.uid, at(2)))!.screenshotAt!.getTime()).to.equal(at(1).getTime());
      expect(await w.messages.recordScreenshot(m.messageKey, alice.uid, at(3))).to.equal(null);
    });

    it('listSent: every message the sender sent, born-ended ones included, newest first, with receiver and image', async () => {
      const [alice, bob, carol] = await someUsers(w, 3);
      const [one] = await anImage(w, alice, [bob]);
      const [two, three] = await anImage(w, alice, [bob, carol], { blocked: [carol] });
      await anImage(w, bob, [alice]);
      const sent = await w.messages.listSent(alice.uid, 10);
      expect(sent.map((m) => m.id)).to.deep.equal([three.id, two.id, one.id]);
      expect(sent.map((m) => m.receiver!.uid)).to.deep.equal([carol.uid, bob.uid, bob.uid]);
      expect(sent[0].image.objectName).to.equal(three.image.objectName);
      expect((await w.messages.listSent(alice.uid, 2)).map((m) => m.id)).to.deep.equal([three.id, two.id]);
    });

    it('download grants: made, reused while unused and fresh, byte budgets reserved and released, completed once', async () => {
      const [alice, bob] = await someUsers(w, 2);
      const [m1, m2] = [(await anImage(w, alice, [bob]))[0], (await anImage(w, alice, [bob]))[0]];
      const made = await w.messages.createGrants([m1.id, m2.id], at(1));
      const [g1, g2] = [made.get(m1.id)!, made.get(m2.id)!];
      expect(g1).to.not.equal(g2);
      const newer = (await w.messages.createGrants([m1.id], at(2))).get(m1.id)!;
      const unused = await w.messages.findUnusedGrants([m1.id, m2.id], at(0));
      expect(unused.get(m1.id)!.id).to.equal(newer);
      expect(unused.get(m2.id)!.id).to.equal(g2);
      expect((await w.messages.findUnusedGrants([m1.id, m2.id], at(1))).has(m2.id)).to.equal(false);
      expect(await w.messages.findUnusedGrants([], at(0))).to.deep.equal(new Map());

      expect(await w.messages.reserveGrantBytes(g1, m1.id, 600, 1000)).to.equal(true);
      expect(await w.messages.reserveGrantBytes(g1, m1.id, 600, 1000)).to.equal(false);
      expect(await w.messages.reserveGrantBytes(g1, m2.id, 1, 1000)).to.equal(false);
      await w.messages.releaseGrantBytes(g1, 200);
      expect(await w.messages.findGrant(g1)).to.deep.equal({ messageId: m1.id, completed: false, servedBytes: 400 });
      await w.messages.releaseGrantBytes(g1, 5000);
      expect((await w.messages.findGrant(g1))!.servedBytes).to.equal(400);
      expect((await w.messages.findUnusedGrants([m1.id], at(0))).get(m1.id)!.id).to.equal(newer);

      expect(await w.messages.completeGrant(g1, m1.id, at(3))).to.equal(true);
      expect(await w.messages.completeGrant(g1, m1.id, at(4))).to.equal(false);
      expect(await w.messages.findGrant(g1)).to.deep.equal({ messageId: m1.id, completed: true, servedBytes: 400 });
      expect(await w.messages.reserveGrantBytes(g1, m1.id, 1, 1000)).to.equal(false);
      expect((await w.messages.findByKey(m1.messageKey))!.downloadedAt!.getTime()).to.equal(at(3).getTime());
      expect(await w.messages.completeGrant(newer, m1.id, at(5))).to.equal(true);
      expect((await w.messages.findByKey(m1.messageKey))!.downloadedAt!.getTime()).to.equal(at(3).getTime());
      expect(await w.messages.findGrant(newer + g2 + 1000)).to.equal(null);
    });

    it('reserveWholeImage: counts the whole image and answers its message, only for a live grant within its budget', async () => {
      const [alice, bob] = await someUsers(w, 2);
      const [m1, m2] = [(await anImage(w, alice, [bob]))[0], (await anImage(w, alice, [bob], { ttlSeconds: 10 }))[0]];
      const made = await w.messages.createGrants([m1.id, m2.id], at(1));
      const [g1, g2] = [made.get(m1.id)!, made.get(m2.id)!];
      const served = async (g: number) => (await w.messages.findGrant(g))!.servedBytes;
      // Another message's grant, an expired image: nothing counted.
      expect(await w.messages.reserveWholeImage(g2, m1.messageKey, at(2), 100, 10_000)).to.equal(null);
      expect(await w.messages.reserveWholeImage(g2, m2.messageKey, at(10), 100, 10_000)).to.equal(null);
      expect(await served(g2)).to.equal(0);

      expect(await w.messages.reserveWholeImage(g1, m1.messageKey, at(2), 100, 10_000)).to.deep.equal({
        messageId: m1.id,
        exist: true,
        image: {
          objectName: m1.image.objectName,
          filetype: 'image/jpeg',
          size: 1234,
          cipher: 'aes256gcm-256k',
          wrappedKey: m1.image.wrappedKey,
          keyId: 'k1',
        },
      });
      expect(await served(g1)).to.equal(1234);
      // Past the image plus the slack, or past the cap: nothing counted.
      expect(await w.messages.reserveWholeImage(g1, m1.messageKey, at(2), 100, 10_000)).to.equal(null);
      await w.messages.releaseGrantBytes(g1, 1200);
      expect(await w.messages.reserveWholeImage(g1, m1.messageKey, at(2), 100, 1267)).to.equal(null);
      expect(await w.messages.reserveWholeImage(g1, m1.messageKey, at(2), 100, 1268)).to.include({ messageId: m1.id });
      expect(await served(g1)).to.equal(1268);

      // Used up, or the message ended: nothing counted.
      expect(await w.messages.completeGrant(g1, m2.id, at(3))).to.equal(false);
      expect(await w.messages.completeGrant(g1, m1.id, at(3))).to.equal(true);
      expect(await w.messages.reserveWholeImage(g1, m1.messageKey, at(4), 100_000, 100_000)).to.equal(null);
      const g3 = (await w.messages.createGrants([m1.id], at(5))).get(m1.id)!;
      await w.messages.endForReceiver(m1.messageKey, bob.uid, 'confirmed', at(6));
      expect(await w.messages.reserveWholeImage(g3, m1.messageKey, at(7), 100, 10_000)).to.equal(null);
      expect(await served(g3)).to.equal(0);
    });

    it('listDownloadedBefore: live downloaded messages, the longest downloaded first', async () => {
      const [alice, bob] = await someUsers(w, 2);
      const [m1, m2, m3] = [(await anImage(w, alice, [bob]))[0], (await anImage(w, alice, [bob]))[0], (await anImage(w, alice, [bob]))[0]];
      const grants = await w.messages.createGrants([m1.id, m2.id, m3.id], at(1));
      await w.messages.completeGrant(grants.get(m2.id)!, m2.id, at(2));
      await w.messages.completeGrant(grants.get(m1.id)!, m1.id, at(3));
      await w.messages.completeGrant(grants.get(m3.id)!, m3.id, at(9));
      const listed = await w.messages.listDownloadedBefore(at(5), 10);
      expect(listed).to.deep.equal([m2, m1].map((m) => ({ messageKey: m.messageKey, receiverUid: bob.uid })));
      await w.messages.endForReceiver(m2.messageKey, bob.uid, 'confirmed', at(6));
      expect((await w.messages.listDownloadedBefore(at(5), 10)).map((m) => m.messageKey)).to.deep.equal([m1.messageKey]);
    });

    it('pruning: grants by age, ended messages with their grants, then images that are over, unreferenced and without a blob', async () => {
      const [alice, bob] = await someUsers(w, 2);
      const [old, young] = [(await anImage(w, alice, [bob]))[0], (await anImage(w, alice, [bob]))[0]];
      const grants = await w.messages.createGrants([old.id, young.id], at(1));
      const later = (await w.messages.createGrants([young.id], at(100))).get(young.id)!;
      expect(await w.messages.deleteGrantsCreatedBefore(at(50), 1)).to.equal(1);
      expect(await w.messages.deleteGrantsCreatedBefore(at(50), 10)).to.equal(1);
      expect(await w.messages.findGrant(grants.get(old.id)!)).to.equal(null);
      expect(await w.messages.findGrant(later)).to.include({ messageId: young.id });

      const { orphanedImage } = await w.messages.endForReceiver(young.messageKey, bob.uid, 'confirmed', at(10));
      expect(await w.messages.deleteImagesEndedBefore(at(20), 10)).to.equal(0);
      expect(await w.messages.deleteEndedBefore(at(5), 10)).to.equal(0);
      expect(await w.messages.deleteEndedBefore(at(20), 10)).to.equal(1);
      expect(await w.messages.findByKey(young.messageKey)).to.equal(null);
      expect(await w.messages.findGrant(later)).to.equal(null);
      expect(await w.messages.deleteImagesEndedBefore(at(20), 10)).to.equal(0);
      await w.messages.markBlobDeleted(orphanedImage!.id, at(11));
      expect(await w.messages.deleteImagesEndedBefore(at(5), 10)).to.equal(0);
      expect(await w.messages.deleteImagesEndedBefore(at(20), 10)).to.equal(1);
      expect(await w.messages.findByKey(old.messageKey)).to.include({ exist: true });
      // Ids are never reused: a grant or a URL naming a deleted row must not reach a new one.
      const [next] = await anImage(w, alice, [bob]);
      expect([old.id, young.id]).not.to.include(next.id);
      expect([old.imageId, young.imageId]).not.to.include(next.imageId);
    });
  });
}
