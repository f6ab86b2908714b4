/** A verification code on its way to one phone. */
export interface VerificationSms {
  regionNum: string;
  phoneNum: string;
  code: string;
  ttlMinutes: number;
}

/**
 * Sends verification codes by SMS. A provider either takes the message or throws SmsDeliveryError;
 * it never retries on its own (a retry is a new request, bounded by the rate limits).
 */
export interface SmsProvider {
  readonly description: string;
  sendVerificationCode(sms: VerificationSms): Promise<void>;
}

/** The provider refused, failed, timed out or answered something we do not understand. */
export class SmsDeliveryError extends Error {
  constructor(
    message: string,
    /** The provider's own error code, when it gave one (e.g. isv.BUSINESS_LIMIT_CONTROL). */
    readonly providerCode?: string,
    readonly requestId?: string,
  ) {
    super(message);
    this.name = 'SmsDeliveryError';
  }
}
