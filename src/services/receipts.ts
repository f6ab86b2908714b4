import { createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject, sign, verify } from 'node:crypto';
import type { MessageEndReason } from '../entities/message.entity';
import type { ReceiptJobs } from '../repositories/message.repository';
import { imageDestroyedPush, PUSH_KIND_IMAGE_DESTROYED } from './push.payloads';

/** Why an image was destroyed, as a receipt states it. */
export type DestroyReason = 'viewed' | 'expired' | 'account_moved' | 'receiver_gone';

export interface ReceiptFacts {
  messageId: number;
  reason: DestroyReason;
  destroyedAt: Date;
}

/** The exact string a receipt signs (docs/api.md, "Deletion receipts"). */
export function receiptMessage(f: { messageId: number; reason: string; destroyedAt: string }): string {
  return `glimpse-receipt-v1|${f.messageId}|${f.reason}|${f.destroyedAt}`;
}

/**
 * Signs deletion receipts with the server's Ed25519 key. The key is made once and kept in the
 * database (server_secret), so every instance signs with the same key and one JWK verifies all.
 */
export class ReceiptSigner {
  private readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;

  constructor(pkcs8Base64: string) {
    this.privateKey = createPrivateKey({ key: Buffer.from(pkcs8Base64, 'base64'), format: 'der', type: 'pkcs8' });
    this.publicKey = createPublicKey(this.privateKey);
  }

  /** A new private key, as stored: PKCS#8 DER in base64. */
  static newKey(): string {
    return generateKeyPairSync('ed25519').privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64');
  }

  /** base64url Ed25519 signature over receiptMessage(...). */
  sign(f: ReceiptFacts): string {
    return sign(null, Buffer.from(receiptMessage({ ...f, destroyedAt: f.destroyedAt.toISOString() })), this.privateKey).toString(
      'base64url',
    );
  }

  /** `{"kty":"OKP","crv":"Ed25519","x":"…"}` */
  jwk(): { kty: string; crv: string; x: string } {
    const { kty, crv, x } = this.publicKey.export({ format: 'jwk' }) as { kty: string; crv: string; x: string };
    return { kty, crv, x };
  }
}

/** Checks a receipt against a public JWK, as an app would. */
export function verifyReceipt(
  jwk: { kty: string; crv: string; x: string },
  f: { messageId: number; reason: string; destroyedAt: string },
  receipt: string,
): boolean {
  const key = createPublicKey({ key: jwk, format: 'jwk' });
  return verify(null, Buffer.from(receiptMessage(f)), key, Buffer.from(receipt, 'base64url'));
}

/** What a receipt says of a message's end: missing blobs count as expired (the image is gone unopened). */
function destroyReason(end: MessageEndReason): DestroyReason {
  if (end === 'confirmed') return 'viewed';
  if (end === 'account_moved') return 'account_moved';
  if (end === 'receiver_gone') return 'receiver_gone';
  return 'expired';
}

/** The receipt pushes, one to the sender of each message whose image's key was destroyed. */
export function receiptJobs(signer: ReceiptSigner): ReceiptJobs {
  return (destroyed) =>
    destroyed.map((m) => {
      const facts: ReceiptFacts = { messageId: m.id, reason: destroyReason(m.endReason), destroyedAt: m.destroyedAt };
      return {
        receiverUid: m.senderUid,
        kind: PUSH_KIND_IMAGE_DESTROYED,
        payload: JSON.stringify(imageDestroyedPush({ ...facts, receipt: signer.sign(facts) })),
        expiresAt: null,
      };
    });
}
