import { createHash, createHmac } from 'node:crypto';
import { HttpDouble, type RecordedRequest, sendJson } from './http-double.ts';

export interface SmsMessage {
  provider: 'aliyun' | 'tencent';
  phoneNumbers: string[];
  signName: string;
  template: string;
  /** status, alert, summary, in template order. */
  params: string[];
  at: number;
}

export interface SmsCredentials {
  /** Aliyun AccessKeyId or Tencent SecretId. */
  id: string;
  /** Aliyun AccessKeySecret or Tencent SecretKey. */
  secret: string;
}

// The double's own implementation of both signatures, written from the providers' documentation independently of
// the relay's code, so a mistake in the relay's signing shows up as a refused request.
const pct = (value: string) =>
  encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

function aliyunExpected(method: string, params: URLSearchParams, secret: string): string {
  const pairs = [...params]
    .filter(([name]) => name !== 'Signature')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const query = pairs.map(([name, value]) => `${pct(name)}=${pct(value)}`).join('&');
  return createHmac('sha1', `${secret}&`)
    .update(`${method}&%2F&${pct(query)}`)
    .digest('base64');
}

function tencentExpected(request: RecordedRequest, secretKey: string): string | undefined {
  const auth = String(request.headers.authorization ?? '');
  const match =
    /^TC3-HMAC-SHA256 Credential=([^/]+)\/(\d{4}-\d{2}-\d{2})\/([a-z]+)\/tc3_request, SignedHeaders=([a-z;-]+), Signature=[0-9a-f]{64}$/.exec(
      auth,
    );
  if (!match) return undefined;
  const [, , date, service, signedHeaders] = match as unknown as [string, string, string, string, string];
  const canonicalHeaders = signedHeaders
    .split(';')
    .map(
      (name) =>
        `${name}:${String(request.headers[name] ?? '')
          .trim()
          .toLowerCase()}\n`,
    )
    .join('');
  const sha = (text: string) => createHash('sha256').update(text).digest('hex');
  const canonical = ['POST', '/', '', canonicalHeaders, signedHeaders, sha(request.body)].join('\n');
  const toSign = [
    'TC3-HMAC-SHA256',
    String(request.headers['x-tc-timestamp']),
    `${date}/${service}/tc3_request`,
    sha(canonical),
  ].join('\n');
  const mac = (key: string | Buffer, text: string) => createHmac('sha256', key).update(text).digest();
  const key = mac(mac(mac(`TC3${secretKey}`, date), service), 'tc3_request');
  return createHmac('sha256', key).update(toSign).digest('hex');
}

/**
 * An SMS gateway speaking either Aliyun dysmsapi SendSms (RPC style, form POST to `/`, HMAC-SHA1 signature,
 * answers {Code: "OK", ...}) or Tencent Cloud SMS SendSms (JSON POST to `/` with X-TC-* headers,
 * TC3-HMAC-SHA256, answers {Response: {SendStatusSet: [...]}}). A bad signature is refused the way each
 * provider does (SignatureDoesNotMatch / AuthFailure.SignatureFailure).
 */
export class SmsGatewayDouble {
  readonly messages: SmsMessage[] = [];
  readonly refused: { reason: string; at: number }[] = [];
  /** Answer the next N sends with a throttling error (retryable on both providers). */
  throttleNext = 0;
  readonly http: HttpDouble;
  readonly provider: 'aliyun' | 'tencent';
  readonly credentials: SmsCredentials;

  constructor(provider: 'aliyun' | 'tencent', credentials: SmsCredentials) {
    this.provider = provider;
    this.credentials = credentials;
    this.http = new HttpDouble((request, response) => {
      if (request.method !== 'POST' || request.path !== '/') {
        response.writeHead(404).end();
        return;
      }
      if (provider === 'aliyun') this.#aliyun(request, (status, body) => sendJson(response, status, body));
      else this.#tencent(request, (status, body) => sendJson(response, status, body));
    });
  }

  get url(): string {
    return this.http.url;
  }

  start(): Promise<HttpDouble> {
    return this.http.start();
  }

  stop(): Promise<void> {
    return this.http.stop();
  }

  #aliyun(request: RecordedRequest, answer: (status: number, body: unknown) => void): void {
    const params = new URLSearchParams(request.body);
    const requestId = `req-${this.http.requests.length}`;
    if (params.get('Action') !== 'SendSms' || params.get('Version') !== '2017-05-25') {
      answer(400, { Code: 'InvalidAction.NotFound', Message: 'unknown action', RequestId: requestId });
      return;
    }
    if (params.get('AccessKeyId') !== this.credentials.id) {
      this.refused.push({ reason: 'InvalidAccessKeyId.NotFound', at: request.at });
      answer(404, {
        Code: 'InvalidAccessKeyId.NotFound',
        Message: 'Specified access key is not found.',
        RequestId: requestId,
      });
      return;
    }
    if (
      params.get('SignatureMethod') !== 'HMAC-SHA1' ||
      params.get('Signature') !== aliyunExpected('POST', params, this.credentials.secret)
    ) {
      this.refused.push({ reason: 'SignatureDoesNotMatch', at: request.at });
      answer(400, {
        Code: 'SignatureDoesNotMatch',
        Message: 'Specified signature is not matched with our calculation.',
        RequestId: requestId,
      });
      return;
    }
    if (this.throttleNext > 0) {
      this.throttleNext -= 1;
      answer(200, { Code: 'isv.BUSINESS_LIMIT_CONTROL', Message: 'flow control', RequestId: requestId });
      return;
    }
    const template = JSON.parse(params.get('TemplateParam') ?? '{}') as Record<string, string>;
    this.messages.push({
      provider: 'aliyun',
      phoneNumbers: (params.get('PhoneNumbers') ?? '').split(','),
      signName: params.get('SignName') ?? '',
      template: params.get('TemplateCode') ?? '',
      params: [template.status ?? '', template.alert ?? '', template.summary ?? ''],
      at: request.at,
    });
    answer(200, { Code: 'OK', Message: 'OK', BizId: `biz-${this.messages.length}`, RequestId: requestId });
  }

  #tencent(request: RecordedRequest, answer: (status: number, body: unknown) => void): void {
    const requestId = `req-${this.http.requests.length}`;
    const fail = (code: string, message: string) => {
      this.refused.push({ reason: code, at: request.at });
      answer(200, { Response: { Error: { Code: code, Message: message }, RequestId: requestId } });
    };
    if (request.headers['x-tc-action'] !== 'SendSms' || request.headers['x-tc-version'] !== '2021-01-11') {
      fail('InvalidAction', 'unknown action or version');
      return;
    }
    const auth = String(request.headers.authorization ?? '');
    if (!auth.includes(`Credential=${this.credentials.id}/`)) {
      fail('AuthFailure.SecretIdNotFound', 'The SecretId is not found');
      return;
    }
    const signature = /Signature=([0-9a-f]{64})$/.exec(auth)?.[1];
    if (!signature || signature !== tencentExpected(request, this.credentials.secret)) {
      fail('AuthFailure.SignatureFailure', 'The provided credentials could not be validated.');
      return;
    }
    if (this.throttleNext > 0) {
      this.throttleNext -= 1;
      answer(200, {
        Response: { Error: { Code: 'RequestLimitExceeded', Message: 'throttled' }, RequestId: requestId },
      });
      return;
    }
    const body = JSON.parse(request.body) as {
      PhoneNumberSet: string[];
      SignName: string;
      TemplateId: string;
      TemplateParamSet: string[];
    };
    this.messages.push({
      provider: 'tencent',
      phoneNumbers: body.PhoneNumberSet,
      signName: body.SignName,
      template: body.TemplateId,
      params: body.TemplateParamSet,
      at: request.at,
    });
    answer(200, {
      Response: {
        SendStatusSet: body.PhoneNumberSet.map((phone, index) => ({
          SerialNo: `serial-${index}`,
          PhoneNumber: phone,
          Fee: 1,
          SessionContext: '',
          Code: 'Ok',
          Message: 'send success',
          IsoCode: 'CN',
        })),
        RequestId: requestId,
      },
    });
  }
}
