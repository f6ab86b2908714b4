import type { Logger } from '../logger';
import { maskedNumber } from '../services/phone';
import type { SmsProvider, VerificationSms } from './sms-provider';

/**
 * Development only (config refuses it in production): writes the code to the server log so a
 * developer can register without an SMS account. The line names the number by its calling code
 * and last two digits only: never the number, nor its hash, which is the number in disguise.
 */
export class LogSmsProvider implements SmsProvider {
  readonly description = 'log';

  constructor(private readonly log: Logger) {}

  async sendVerificationCode(sms: VerificationSms): Promise<void> {
    this.log.info({ to: maskedNumber(sms), smsCode: sms.code, validMinutes: sms.ttlMinutes }, 'verification code (SMS_PROVIDER=log)');
  }
}
