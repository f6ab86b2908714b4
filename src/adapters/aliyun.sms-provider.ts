import Dysmsapi, { SendSmsRequest } from '@alicloud/dysmsapi20170525';
import { $OpenApiUtil } from '@alicloud/openapi-core';
import { RuntimeOptions } from '@darabonba/typescript';
import type { AliyunSmsConfig } from '../config';
import { SmsDeliveryError, SmsProvider, VerificationSms } from './sms-provider';

/**
 * Alibaba Cloud SMS (Dysmsapi SendSms) through the official SDK. The SDK signs each request
 * (ACS3-HMAC-SHA256) and does not retry; this adapter adds a hard deadline and accepts only an
 * answer of the documented shape with Code "OK".
 */
export class AliyunSmsProvider implements SmsProvider {
  readonly description: string;
  private readonly client: Dysmsapi;

  constructor(private readonly config: AliyunSmsConfig) {
    this.description = `aliyun ${config.protocol}://${config.endpoint}`;
    this.client = new Dysmsapi(
      new $OpenApiUtil.Config({
        accessKeyId: config.accessKeyId,
        accessKeySecret: config.accessKeySecret,
        endpoint: config.endpoint,
        protocol: config.protocol,
        regionId: 'cn-hangzhou',
        connectTimeout: config.timeoutMs,
        readTimeout: config.timeoutMs,
      }),
    );
  }

  async sendVerificationCode(sms: VerificationSms): Promise<void> {
    const request = new SendSmsRequest({
      // Mainland numbers go without the calling code; all others as calling code + number.
      phoneNumbers: sms.regionNum === '86' ? sms.phoneNum : `${sms.regionNum}${sms.phoneNum}`,
      signName: this.config.signName,
      templateCode: this.config.templateCode,
      templateParam: JSON.stringify({ [this.config.templateParam]: sms.code }),
    });
    const runtime = new RuntimeOptions({
      autoretry: false,
      maxAttempts: 1,
      connectTimeout: this.config.timeoutMs,
      readTimeout: this.config.timeoutMs,
    });
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new SmsDeliveryError(`no answer within ${this.config.timeoutMs} ms`, 'Timeout')),
        this.config.timeoutMs + 100,
      );
    });
    let response: unknown;
    try {
      response = await Promise.race([this.client.sendSmsWithOptions(request, runtime), deadline]);
    } catch (e) {
      if (e instanceof SmsDeliveryError) throw e;
      const err = e as { code?: unknown; name?: unknown; message?: unknown; requestId?: unknown };
      // The SDK's messages quote the provider's answer, never the request: safe to keep.
      throw new SmsDeliveryError(
        `SendSms failed: ${String(err.message ?? err).slice(0, 200)}`,
        typeof err.code === 'string' ? err.code : String(err.name ?? 'Error'),
        typeof err.requestId === 'string' ? err.requestId : undefined,
      );
    } finally {
      clearTimeout(timer);
    }
    checkAnswer(response);
  }
}

/** Accepts only `{ statusCode: 200, body: { Code: "OK", BizId, RequestId } }`, as documented. */
function checkAnswer(response: unknown): void {
  const r = response as { statusCode?: unknown; body?: { code?: unknown; message?: unknown; bizId?: unknown; requestId?: unknown } } | null;
  const body = r?.body;
  const requestId = typeof body?.requestId === 'string' ? body.requestId.slice(0, 64) : undefined;
  if (r?.statusCode !== 200 || typeof body !== 'object' || body === null || typeof body.code !== 'string') {
    throw new SmsDeliveryError('SendSms answered in an unexpected shape', 'BadAnswer', requestId);
  }
  if (body.code !== 'OK') {
    const message = typeof body.message === 'string' ? body.message.slice(0, 200) : '';
    throw new SmsDeliveryError(`SendSms refused: ${body.code} ${message}`.trim(), body.code.slice(0, 64), requestId);
  }
  if (typeof body.bizId !== 'string' || !body.bizId) {
    throw new SmsDeliveryError('SendSms answered OK without a BizId', 'BadAnswer', requestId);
  }
}
