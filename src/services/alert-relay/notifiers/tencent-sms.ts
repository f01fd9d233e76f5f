import { createHash, createHmac } from 'node:crypto';
import type { WebhookAlert } from '../alertmanager-payload.ts';
import { type AlertBatch, type Notifier, NotifyError, postForJson } from './notifier.ts';
import { byStatus, isCritical, smsParams } from './sms-message.ts';

export interface Tc3Request {
  secretId: string;
  secretKey: string;
  /** e.g. `sms` for sms.tencentcloudapi.com */
  service: string;
  host: string;
  action: string;
  /** Unix seconds. */
  timestamp: number;
  payload: string;
  contentType?: string;
}

const sha256Hex = (text: string) => createHash('sha256').update(text).digest('hex');
const hmac = (key: string | Buffer, text: string) => createHmac('sha256', key).update(text).digest();

/**
 * TC3-HMAC-SHA256 (Tencent Cloud API signature v3) for a JSON POST: canonical request over content-type, host
 * and x-tc-action; string to sign with the credential scope `date/service/tc3_request`; the signing key derived
 * from "TC3"+SecretKey through date, service and "tc3_request". Returns the Authorization header value.
 */
export function tc3Authorization(request: Tc3Request): {
  authorization: string;
  signature: string;
  canonicalRequestHash: string;
} {
  const contentType = request.contentType ?? 'application/json; charset=utf-8';
  const signedHeaders = 'content-type;host;x-tc-action';
  const canonicalHeaders = `content-type:${contentType}\nhost:${request.host}\nx-tc-action:${request.action.toLowerCase()}\n`;
  const canonicalRequest = [
    'POST',
    '/',
    '',
    canonicalHeaders,
    signedHeaders,
    sha256Hex(request.payload),
  ].join('\n');
  const date = new Date(request.timestamp * 1000).toISOString().slice(0, 10);
  const scope = `${date}/${request.service}/tc3_request`;
  const canonicalRequestHash = sha256Hex(canonicalRequest);
  const stringToSign = ['TC3-HMAC-SHA256', String(request.timestamp), scope, canonicalRequestHash].join('\n');
  const signingKey = hmac(hmac(hmac(`TC3${request.secretKey}`, date), request.service), 'tc3_request');
  const signature = createHmac('sha256', signingKey).update(stringToSign).digest('hex');
  return {
    authorization: `TC3-HMAC-SHA256 Credential=${request.secretId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
    signature,
    canonicalRequestHash,
  };
}

/** Error codes meaning "later". */
const RETRYABLE_CODES =
  /^(RequestLimitExceeded|InternalError|ResourceUnavailable|FailedOperation\.InsufficientBalance$)/;

export interface TencentSmsOptions {
  endpoint: string;
  region: string;
  secretId: string;
  secretKey: string;
  sdkAppId: string;
  phoneNumbers: string[];
  signName: string;
  templateId: string;
  paramMaxChars: number;
  now?: () => number;
}

interface SendSmsAnswer {
  Response?: {
    Error?: { Code?: string; Message?: string };
    SendStatusSet?: { PhoneNumber?: string; Code?: string; Message?: string }[];
  };
}

/** Tencent Cloud SMS (2021-01-11) SendSms, signed with TC3-HMAC-SHA256. */
export class TencentSmsNotifier implements Notifier {
  readonly channel = 'sms' as const;
  readonly #options: TencentSmsOptions;
  readonly #url: URL;

  constructor(options: TencentSmsOptions) {
    this.#options = options;
    this.#url = new URL(options.endpoint);
  }

  accepts(alert: WebhookAlert): boolean {
    return isCritical(alert);
  }

  async send(batch: AlertBatch, signal: AbortSignal): Promise<void> {
    const o = this.#options;
    for (const alerts of byStatus(batch)) {
      const params = smsParams(alerts, o.paramMaxChars);
      const payload = JSON.stringify({
        PhoneNumberSet: o.phoneNumbers,
        SmsSdkAppId: o.sdkAppId,
        SignName: o.signName,
        TemplateId: o.templateId,
        TemplateParamSet: [params.status, params.alert, params.summary],
      });
      const timestamp = Math.floor((o.now?.() ?? Date.now()) / 1000);
      const action = 'SendSms';
      const contentType = 'application/json; charset=utf-8';
      const { authorization } = tc3Authorization({
        secretId: o.secretId,
        secretKey: o.secretKey,
        service: 'sms',
        host: this.#url.host,
        action,
        timestamp,
        payload,
        contentType,
      });
      const answer = (await postForJson('Tencent SMS', this.#url.toString(), {
        headers: {
          authorization,
          'content-type': contentType,
          'x-tc-action': action,
          'x-tc-timestamp': String(timestamp),
          'x-tc-version': '2021-01-11',
          'x-tc-region': o.region,
        },
        body: payload,
        signal,
      })) as SendSmsAnswer;
      const error = answer.Response?.Error;
      if (error) {
        throw new NotifyError(`Tencent SMS refused: ${error.Code} ${error.Message ?? ''}`, {
          retryable: RETRYABLE_CODES.test(error.Code ?? ''),
        });
      }
      const failed = (answer.Response?.SendStatusSet ?? []).filter((status) => status.Code !== 'Ok');
      if (failed.length > 0) {
        throw new NotifyError(
          `Tencent SMS did not send to ${failed.length} number(s): ${failed.map((status) => status.Code).join(', ')}`,
          { retryable: false },
        );
      }
    }
  }
}
