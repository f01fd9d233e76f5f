import { StandaloneSerializer } from '@fastify/fast-json-stringify-compiler';
import { _ } from 'ajv';
import standaloneCode from 'ajv/dist/standalone/index.js';
import type { FastifyInstance } from 'fastify';
import { recordSchemaCode } from './compiled-schemas.ts';

// ajv/dist/standalone is CommonJS with a default export that TypeScript's nodenext view puts one level down.
const toStandaloneCode = standaloneCode as unknown as typeof standaloneCode.default;

/** Standalone code refers to the formats by this require(), which the bundler resolves like any other. */
const FORMATS_CODE = _`require("ajv-formats/dist/formats").fullFormats`;

interface GeneratedEntry {
  key: string;
  source: string;
  code: string;
}

/**
 * Build time: builds an application with every schema compilation recorded, and returns a JavaScript module
 * exporting `compiledSchemaTable` (see compiled-schemas.ts) whose entries are the generated validators and
 * serializers as plain functions. Their `require()`s (Ajv's runtime helpers, the formats, fast-json-stringify's
 * serializer) are left to the bundler.
 */
export async function generateSchemaCode(buildApp: () => Promise<FastifyInstance>): Promise<string> {
  const validators: GeneratedEntry[] = [];
  const serializers: GeneratedEntry[] = [];
  recordSchemaCode({
    ajvOptions: { code: { source: true, formats: FORMATS_CODE } },
    validator: (key, source, ajv, validate) => {
      validators.push({ key, source, code: toStandaloneCode(ajv as never, validate) });
    },
    serializer: (key, source, route, externalSchemas, options) => {
      let code: string | undefined;
      const factory = StandaloneSerializer({
        readMode: false,
        storeFunction: (_route, generated) => {
          code = generated;
        },
      });
      // Validators of anyOf/oneOf branches inlined as standalone code too, so no Ajv is made when it loads.
      factory(externalSchemas, {
        ...(options as object),
        inlineValidators: true,
        ajv: { code: { formats: FORMATS_CODE } },
      } as never)(route);
      if (code === undefined) throw new Error(`no serializer code generated for ${key}`);
      serializers.push({ key, source, code });
    },
  });
  try {
    const app = await buildApp();
    await app.ready();
    await app.close();
  } finally {
    recordSchemaCode(undefined);
  }
  return [
    `export const compiledSchemaTable = {`,
    `  validators: new Map([${validators.map(entryCode).join(',')}]),`,
    `  serializers: new Map([${serializers.map(entryCode).join(',')}]),`,
    `};`,
  ].join('\n');
}

/** One entry: its key, its source JSON, and its generated CommonJS module, evaluated on first use. */
function entryCode({ key, source, code }: GeneratedEntry): string {
  return `[${JSON.stringify(key)}, { source: ${JSON.stringify(source)}, load: () => { const module = { exports: {} }; const exports = module.exports; ${code}\n; return module.exports; } }]`;
}
