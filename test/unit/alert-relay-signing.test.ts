import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AliyunSmsNotifier,
  aliyunPercentEncode,
  aliyunRpcSignature,
} from '../../src/services/alert-relay/notifiers/aliyun-sms.ts';
import { tc3Authorization } from '../../src/services/alert-relay/notifiers/tencent-sms.ts';
import { alert } from '../support/alert-payloads.ts';

describe('Aliyun RPC signature (HMAC-SHA1)', () => {
  // The SendSms example of Aliyun's SMS documentation ("HTTP protocol and signature"): AccessKeyId testId,
  // AccessKeySecret testSecret, signed for GET; the documented signature is zJDF+Lrzhj/ThnlvIToysFRq6t4=.
  const documented = {
    AccessKeyId: 'testId',
    Action: 'SendSms',
    Format: 'XML',
    OutId: '123',
    PhoneNumbers: '15300000001',
    RegionId: 'cn-hangzhou',
    SignName: '阿里云短信测试专用',
    SignatureMethod: 'HMAC-SHA1',
    SignatureNonce: '45e25e9b-0a6f-4070-8c85-2956eda1b466',
    SignatureVersion: '1.0',
    TemplateCode: 'SMS_71390007',
    TemplateParam: '{"customer":"test"}',
    Timestamp: '2017-07-12T02:42:19Z',
    Version: '2017-05-25',
  };

  test('reproduces the documented SendSms example', () => {
    assert.equal(aliyunRpcSignature('GET', documented, 'testSecret'), 'zJDF+Lrzhj/ThnlvIToysFRq6t4=');
  });

  test('ignores parameter order and an existing Signature parameter; any change breaks it', () => {
    const shuffled = Object.fromEntries(Object.entries(documented).reverse());
    assert.equal(
      aliyunRpcSignature('GET', { ...shuffled, Signature: 'old' }, 'testSecret'),
      'zJDF+Lrzhj/ThnlvIToysFRq6t4=',
    );
    assert.notEqual(aliyunRpcSignature('POST', documented, 'testSecret'), 'zJDF+Lrzhj/ThnlvIToysFRq6t4=');
    assert.notEqual(
      aliyunRpcSignature('GET', { ...documented, OutId: '124' }, 'testSecret'),
      'zJDF+Lrzhj/ThnlvIToysFRq6t4=',
    );
  });

  test('percent-encodes per RFC 3986 (space %20, * %2A, ~ kept)', () => {
    assert.equal(aliyunPercentEncode("a b*c~d'e(f)!"), 'a%20b%2Ac~d%27e%28f%29%21');
    assert.equal(aliyunPercentEncode('/'), '%2F');
  });

  test('a SendSms request carries every common parameter and a signature over them', () => {
    const notifier = new AliyunSmsNotifier({
      endpoint: 'https://dysmsapi.aliyuncs.com',
      regionId: 'cn-hangzhou',
      accessKeyId: 'testId',
      accessKeySecret: 'testSecret',
      phoneNumbers: ['13800000000'],
      signName: 'oncall',
      templateCode: 'SMS_1',
      paramMaxChars: 20,
      now: () => new Date('2026-11-27T10:00:00.123Z'),
      nonce: () => 'nonce-1',
    });
    const params = notifier.signedParams([
      alert({ alertname: 'UserServiceHighErrorRatio', severity: 'critical' }),
    ]);
    assert.equal(params.Timestamp, '2026-11-27T10:00:00Z');
    assert.equal(params.Format, 'JSON');
    assert.equal(params.SignatureNonce, 'nonce-1');
    assert.deepEqual(JSON.parse(params.TemplateParam ?? ''), {
      status: 'FIRING',
      alert: 'UserServiceHighErro…',
      summary: 'UserServiceHighErro…',
    });
    const { Signature, ...rest } = params;
    assert.equal(Signature, aliyunRpcSignature('POST', rest, 'testSecret'));
  });
});

describe('Tencent Cloud TC3-HMAC-SHA256', () => {
  // The worked example of Tencent Cloud's "Signature v3" documentation: CVM DescribeInstances at timestamp
  // 1551113065 (2019-02-25) with the documentation's placeholder credentials, exactly as printed there.
  const example = {
    secretId: 'AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******',
    secretKey: 'Gu5t9xGARNpq86cd98joQYCN3*******',
    service: 'cvm',
    host: 'cvm.tencentcloudapi.com',
    action: 'DescribeInstances',
    timestamp: 1551113065,
    payload: '{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}',
  };

  test('reproduces the documented canonical request hash and signature', () => {
    const signed = tc3Authorization(example);
    assert.equal(
      signed.canonicalRequestHash,
      '7019a55be8395899b900fb5564e4200d984910f34794a27cb3fb7d10ff6a1e84',
    );
    assert.equal(signed.signature, 'be4f67d323c78ab9acb7395e43c0dbcf822a9cfac32fea2449a7bc7726b770a3');
    assert.equal(
      signed.authorization,
      'TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host;x-tc-action, Signature=be4f67d323c78ab9acb7395e43c0dbcf822a9cfac32fea2449a7bc7726b770a3',
    );
  });

  test('the date of the credential scope is the UTC date of the timestamp; a changed body changes the signature', () => {
    const late = tc3Authorization({ ...example, timestamp: Date.UTC(2026, 10, 27, 23, 59, 59) / 1000 });
    assert.match(late.authorization, /\/2026-11-27\/cvm\/tc3_request/);
    assert.notEqual(
      tc3Authorization({ ...example, payload: '{}' }).signature,
      tc3Authorization(example).signature,
    );
  });
});
