import type { Logger } from '../logger';
import type { SmsProvider, VerificationSms } from './sms-provider';

/**
 * Development only (config refuses it in production): writes the code to the server log beside
 * the phone hash, never the number, so a developer can register without an SMS account.
 */
export class LogSmsProvider implements SmsProvider {
  readonly description = 'log';

  constructor(private readonly log: Logger) {}

  async sendVerificationCode(sms: VerificationSms): Promise<void> {
    this.log.info({ phoneHash: sms.phoneHash, smsCode: sms.code, validMinutes: sms.ttlMinutes }, 'verification code (SMS_PROVIDER=log)');
  }
}
