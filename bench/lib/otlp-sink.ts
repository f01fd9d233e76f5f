import { createServer, type Server } from 'node:http';

export interface OtlpSink {
  endpoint: string;
  stats: () => { exports: number; bytes: number };
  close: () => Promise<void>;
}

/**
 * Stands in for an OpenTelemetry collector: accepts OTLP/HTTP `POST /v1/traces` (protobuf or JSON), discards the
 * spans and answers 200 with an empty ExportTraceServiceResponse, so the exporter's full cost is paid and counted.
 */
export async function startOtlpSink(): Promise<OtlpSink> {
  let exports = 0;
  let bytes = 0;
  const server: Server = createServer((req, res) => {
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      exports += 1;
      const json = req.headers['content-type']?.includes('json');
      res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' });
      res.end(json ? '{}' : undefined);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stats: () => ({ exports, bytes }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
