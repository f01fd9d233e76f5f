import type { WebhookAlert } from '../alertmanager-payload.ts';
import { type AlertBatch, alertSummary, type Notifier, NotifyError, postForJson } from './notifier.ts';

/** WeChat Work caps a markdown message at 4096 bytes of UTF-8. */
export const WECHAT_MARKDOWN_MAX_BYTES = 4_096;

/**
 * Error codes worth another attempt: -1 system busy, 45009 the robot's rate limit (20 messages a minute).
 * Anything else (93000 bad key, 40008 bad message type, ...) will not get better by retrying.
 */
const RETRYABLE_ERRCODES = new Set([-1, 45009]);

const SHOWN_LABELS_EXCLUDED = new Set(['alertname', 'severity']);

function block(alert: WebhookAlert): string {
  const firing = alert.status === 'firing';
  const severity = alert.labels.severity ?? 'none';
  const colour = !firing ? 'info' : severity === 'critical' ? 'warning' : 'comment';
  const labels = Object.entries(alert.labels)
    .filter(([name]) => !SHOWN_LABELS_EXCLUDED.has(name))
    .map(([name, value]) => `\`${name}=${value}\``)
    .join(' ');
  const lines = [
    `### ${firing ? 'FIRING' : 'RESOLVED'}: ${alert.labels.alertname}`,
    `> status: <font color="${colour}">${alert.status}</font>`,
    `> severity: <font color="${colour}">${severity}</font>`,
    `> summary: ${alertSummary(alert)}`,
  ];
  if (labels) lines.push(`> labels: ${labels}`);
  if (alert.annotations.runbook_url)
    lines.push(`> runbook: [${alert.annotations.runbook_url}](${alert.annotations.runbook_url})`);
  if (!firing) lines.push(`> resolved after: ${durationText(alert)}`);
  return lines.join('\n');
}

function durationText(alert: WebhookAlert): string {
  const seconds = Math.max(0, Math.round((Date.parse(alert.endsAt) - Date.parse(alert.startsAt)) / 1000));
  if (!Number.isFinite(seconds)) return 'unknown';
  if (seconds < 120) return `${seconds} s`;
  return `${Math.round(seconds / 60)} min`;
}

/** The markdown message for a batch, cut at whole alerts so it stays under WeChat Work's size limit. */
export function wechatMarkdown(batch: AlertBatch): string {
  const blocks = batch.alerts.map(block);
  const encoder = new TextEncoder();
  let content = '';
  for (const [index, next] of blocks.entries()) {
    const candidate = content ? `${content}\n\n${next}` : next;
    const remaining = blocks.length - index - 1;
    const tail = remaining > 0 ? `\n\n… and ${remaining} more (see Alertmanager)` : '';
    if (encoder.encode(candidate + tail).length > WECHAT_MARKDOWN_MAX_BYTES - 64) {
      return `${content}\n\n… and ${blocks.length - index} more (see Alertmanager)`;
    }
    content = candidate;
  }
  return content;
}

export interface WechatWorkOptions {
  /** https://qyapi.weixin.qq.com/cgi-bin/webhook/send */
  url: string;
  key: string;
}

/** WeChat Work group robot: POST ...webhook/send?key=KEY {msgtype: markdown}; success is `errcode: 0`. */
export class WechatWorkNotifier implements Notifier {
  readonly channel = 'wechat' as const;
  readonly #endpoint: string;

  constructor(options: WechatWorkOptions) {
    const url = new URL(options.url);
    url.searchParams.set('key', options.key);
    this.#endpoint = url.toString();
  }

  accepts(): boolean {
    return true;
  }

  async send(batch: AlertBatch, signal: AbortSignal): Promise<void> {
    const body = JSON.stringify({ msgtype: 'markdown', markdown: { content: wechatMarkdown(batch) } });
    const answer = (await postForJson('WeChat Work', this.#endpoint, {
      headers: { 'content-type': 'application/json' },
      body,
      signal,
    })) as { errcode?: unknown; errmsg?: unknown };
    if (answer.errcode === 0) return;
    const code = typeof answer.errcode === 'number' ? answer.errcode : Number.NaN;
    throw new NotifyError(
      `WeChat Work refused the message: errcode ${answer.errcode} ${String(answer.errmsg ?? '')}`,
      {
        retryable: RETRYABLE_ERRCODES.has(code),
      },
    );
  }
}
