import { createHmac, randomUUID } from 'node:crypto';
import type { WebhookAlert } from '../alertmanager-payload.ts';
import { type AlertBatch, type Notifier, NotifyError, postForJson } from './notifier.ts';
import { byStatus, isCritical, smsParams } from './sms-message.ts';

/**
 * Aliyun's percent-encoding for RPC signatures: RFC 3986 unreserved characters stay, everything else is %XX
 * of its UTF-8 bytes (a space is %20, never +; `*` is %2A and `~` stays).
 */
export function aliyunPercentEncode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/**
 * Signature method V2 for RPC APIs (HMAC-SHA1): sort the parameters by name, encode and join them into the
 * canonicalized query string, then sign `METHOD&%2F&encode(query)` with the key `AccessKeySecret&`, base64.
 */
export function aliyunRpcSignature(
  method: string,
  params: Record<string, string>,
  accessKeySecret: string,
): string {
  const canonical = Object.keys(params)
    .filter((name) => name !== 'Signature')
    .sort()
    .map((name) => `${aliyunPercentEncode(name)}=${aliyunPercentEncode(params[name] ?? '')}`)
    .join('&');
  const stringToSign = `${method}&${aliyunPercentEncode('/')}&${aliyunPercentEncode(canonical)}`;
  return createHmac('sha1', `${accessKeySecret}&`).update(stringToSign).digest('base64');
}

/** Codes meaning "later": flow control and Aliyun-side trouble. */
const RETRYABLE_CODES = /^(Throttling|ServiceUnavailable|InternalError|isv\.BUSINESS_LIMIT_CONTROL)/;

export interface AliyunSmsOptions {
  endpoint: string;
  regionId: string;
  accessKeyId: string;
  accessKeySecret: string;
  phoneNumbers: string[];
  signName: string;
  templateCode: string;
  paramMaxChars: number;
  now?: () => Date;
  nonce?: () => string;
}

/** Aliyun SMS (dysmsapi 2017-05-25) SendSms, signed per the RPC signature method, sent as a form POST. */
export class AliyunSmsNotifier implements Notifier {
  readonly channel = 'sms' as const;
  readonly #options: AliyunSmsOptions;

  constructor(options: AliyunSmsOptions) {
    this.#options = options;
  }

  accepts(alert: WebhookAlert): boolean {
    return isCritical(alert);
  }

  /** The signed parameters of one SendSms request (exposed for tests). */
  signedParams(alerts: WebhookAlert[]): Record<string, string> {
    const o = this.#options;
    const params: Record<string, string> = {
      AccessKeyId: o.accessKeyId,
      Action: 'SendSms',
      Format: 'JSON',
      PhoneNumbers: o.phoneNumbers.join(','),
      RegionId: o.regionId,
      SignName: o.signName,
      SignatureMethod: 'HMAC-SHA1',
      SignatureNonce: (o.nonce ?? randomUUID)(),
      SignatureVersion: '1.0',
      TemplateCode: o.templateCode,
      TemplateParam: JSON.stringify(smsParams(alerts, o.paramMaxChars)),
      Timestamp: (o.now?.() ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      Version: '2017-05-25',
    };
    params.Signature = aliyunRpcSignature('POST', params, o.accessKeySecret);
    return params;
  }

  async send(batch: AlertBatch, signal: AbortSignal): Promise<void> {
    for (const alerts of byStatus(batch)) {
      const body = new URLSearchParams(this.signedParams(alerts)).toString();
      const answer = (await postForJson('Aliyun SMS', `${this.#options.endpoint.replace(/\/$/, '')}/`, {
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body,
        signal,
      })) as { Code?: unknown; Message?: unknown };
      if (answer.Code === 'OK') continue;
      const code = String(answer.Code ?? 'unknown');
      throw new NotifyError(`Aliyun SMS refused: ${code} ${String(answer.Message ?? '')}`, {
        retryable: RETRYABLE_CODES.test(code),
      });
    }
  }
}
