import type { Logger } from '../logger';
import type { PushMessage, PushProvider, PushResult } from './push-provider';

/**
 * The development provider: every push becomes one structured log line. The payload is left out
 * on purpose: it carries the sender's phone hash, and a phone number's hash can be reversed.
 */
export class LogPushProvider implements PushProvider {
  readonly description = 'log';

  constructor(private readonly log: Logger) {}

  async send(m: PushMessage): Promise<PushResult> {
    this.log.info(
      {
        push: {
          kind: m.kind,
          jobId: m.jobId,
          receiverUid: m.receiverUid,
          requestId: m.requestId,
          ttlMs: m.ttlMs,
          bytes: Buffer.byteLength(m.payload),
        },
      },
      'push (log provider)',
    );
    return { outcome: 'sent', detail: 'logged' };
  }
}
