// A loopback double of the npm registry's bulk advisory endpoint, the one `npm audit` calls:
//
//   POST /-/npm/v1/security/advisories/bulk
//   content-type: application/json, content-encoding: gzip (npm gzips the body; identity is accepted too)
//   body:   { "<package>": ["<version>", ...], ... }        (npm 11 sends the audited nodes: --omit=dev leaves dev out)
//   answer: { "<package>": [{ id, url, title, severity, vulnerable_versions, cwe, cvss }], ... }
//
// It answers {} (no advisories) unless given advisories, and then answers for the packages asked about, as the
// registry does; npm itself tests each installed version against `vulnerable_versions` and applies
// --audit-level. `npm audit --registry <url>` also asks the registry for the packument of each package with an
// advisory (to suggest a fix); this double has none and answers 404, which npm (@npmcli/metavuln-calculator)
// treats as a package from elsewhere: the advisory still counts, only the fix suggestion says "no fix available".
// The rehearsal points the pipelines' `npm run audit:prod` here through NPM_AUDIT_REGISTRY.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { promisify } from 'node:util';
import { gunzip, inflate } from 'node:zlib';

export const BULK_ADVISORY_PATH = '/-/npm/v1/security/advisories/bulk';

export type Severity = 'info' | 'low' | 'moderate' | 'high' | 'critical';

/** One advisory as the bulk endpoint reports it. */
export interface Advisory {
  id: number;
  url: string;
  title: string;
  severity: Severity;
  /** A semver range, e.g. "<8.23.2". */
  vulnerable_versions: string;
  cwe: string[];
  cvss: { score: number; vectorString: string | null };
}

/** Request or answer body: package name to the versions installed / to its advisories. */
export type BulkRequest = Record<string, string[]>;
export type BulkAnswer = Record<string, Advisory[]>;

export interface AdvisoryDoubleOptions {
  /** Advisories to report, by package name; none by default. */
  advisories?: BulkAnswer;
}

const SEVERITIES: readonly string[] = ['info', 'low', 'moderate', 'high', 'critical'];
const decoders: Record<string, (body: Buffer) => Promise<Buffer>> = {
  gzip: promisify(gunzip),
  'x-gzip': promisify(gunzip),
  deflate: promisify(inflate),
  identity: async (body) => body,
};

function json(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}

function isBulkRequest(body: unknown): body is BulkRequest {
  return (
    typeof body === 'object' &&
    body !== null &&
    !Array.isArray(body) &&
    Object.values(body).every(
      (versions) => Array.isArray(versions) && versions.every((version) => typeof version === 'string'),
    )
  );
}

export class AdvisoryDouble {
  /** Every bulk request body answered, decoded, in order. */
  readonly requests: BulkRequest[] = [];
  readonly #advisories: BulkAnswer;
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;

  constructor(options: AdvisoryDoubleOptions = {}) {
    for (const [name, advisories] of Object.entries(options.advisories ?? {}))
      for (const advisory of advisories)
        if (!SEVERITIES.includes(advisory.severity))
          throw new Error(`advisory ${advisory.id} for ${name}: unknown severity ${advisory.severity}`);
    this.#advisories = structuredClone(options.advisories ?? {});
  }

  /** The registry URL to give npm (`--registry`), once started. */
  get url(): string {
    if (!this.#server) throw new Error('advisory double not started');
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/`;
  }

  async start(): Promise<this> {
    const server = createServer((request, response) => {
      this.#handle(request, response).catch((error: Error) => {
        if (!response.headersSent) json(response, 500, { error: error.message });
        else response.destroy();
      });
    });
    server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    this.#server = server;
    return this;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    const closed = once(server, 'close');
    server.close();
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const path = new URL(request.url ?? '/', 'http://double').pathname;
    if (path !== BULK_ADVISORY_PATH) {
      json(response, 404, { error: 'Not found' });
      return;
    }
    if (request.method !== 'POST') {
      response.setHeader('allow', 'POST');
      json(response, 405, { error: 'Method not allowed' });
      return;
    }
    const encoding = (request.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
    const decode = decoders[encoding];
    if (!decode) {
      json(response, 415, { error: `unsupported content-encoding ${encoding}` });
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse((await decode(Buffer.concat(chunks))).toString('utf8'));
    } catch (error) {
      json(response, 400, { error: `invalid body: ${(error as Error).message}` });
      return;
    }
    if (!isBulkRequest(body)) {
      json(response, 400, { error: 'body must map package names to arrays of versions' });
      return;
    }
    this.requests.push(body);
    const answer: BulkAnswer = {};
    for (const name of Object.keys(body)) {
      const advisories = this.#advisories[name];
      if (advisories?.length) answer[name] = advisories;
    }
    json(response, 200, answer);
  }
}
