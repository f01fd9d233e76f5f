import { HttpDouble, sendJson } from './http-double.ts';

export interface WechatMessage {
  key: string;
  content: string;
  at: number;
}

/**
 * The WeChat Work group robot API: POST /cgi-bin/webhook/send?key=KEY with {"msgtype":"markdown","markdown":
 * {"content":...}}; HTTP 200 always, success or failure in {errcode, errmsg} (93000 bad key, 40008 bad message
 * type, 40058 content too long, 45009 rate limited).
 */
export class WechatRobotDouble {
  readonly messages: WechatMessage[] = [];
  /** Answer the next N sends with this errcode (e.g. 45009) or HTTP status instead of success. */
  failNext: { count: number; errcode?: number; httpStatus?: number } = { count: 0 };
  readonly http: HttpDouble;
  readonly key: string;

  constructor(key: string) {
    this.key = key;
    this.http = new HttpDouble((request, response) => {
      if (request.method !== 'POST' || request.path !== '/cgi-bin/webhook/send') {
        sendJson(response, 404, { errcode: 404, errmsg: 'not found' });
        return;
      }
      if (this.failNext.count > 0) {
        this.failNext.count -= 1;
        if (this.failNext.httpStatus) {
          response.writeHead(this.failNext.httpStatus).end('busy');
          return;
        }
        sendJson(response, 200, { errcode: this.failNext.errcode ?? -1, errmsg: 'injected failure' });
        return;
      }
      if (request.query.get('key') !== this.key) {
        sendJson(response, 200, { errcode: 93000, errmsg: 'invalid webhook url' });
        return;
      }
      const body = JSON.parse(request.body) as { msgtype?: string; markdown?: { content?: string } };
      if (body.msgtype !== 'markdown' || typeof body.markdown?.content !== 'string') {
        sendJson(response, 200, { errcode: 40008, errmsg: 'invalid message type' });
        return;
      }
      if (Buffer.byteLength(body.markdown.content) > 4096) {
        sendJson(response, 200, { errcode: 40058, errmsg: 'markdown.content exceed max length 4096' });
        return;
      }
      this.messages.push({ key: this.key, content: body.markdown.content, at: request.at });
      sendJson(response, 200, { errcode: 0, errmsg: 'ok' });
    });
  }

  /** The robot URL without the key, as WECHAT_WEBHOOK_URL. */
  get url(): string {
    return `${this.http.url}/cgi-bin/webhook/send`;
  }

  start(): Promise<HttpDouble> {
    return this.http.start();
  }

  stop(): Promise<void> {
    return this.http.stop();
  }
}
