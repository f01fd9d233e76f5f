import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifyInstance } from 'fastify';

// ajv-formats is CommonJS with a default export that TypeScript's nodenext view puts one level down.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

/**
 * Bodies are validated strictly: no type coercion (`{"name": 5}` is an error, not "5") and no silent removal of
 * unknown fields. Query strings and path parameters arrive as text, so they alone are coerced.
 */
export function installStrictValidation(app: FastifyInstance): void {
  // validateSchema off: checking each route schema against the JSON Schema meta-schema compiles that meta-schema
  // in both instances, 70 ms of CPU at start-up (0.35 s at the pod's 0.2 CPU); the schemas are TypeBox-built.
  const common = {
    removeAdditional: false,
    useDefaults: true,
    strict: false,
    validateSchema: false,
  } as const;
  const body = addFormats(new Ajv({ ...common, coerceTypes: false, allErrors: true }));
  const text = addFormats(new Ajv({ ...common, coerceTypes: 'array', allErrors: false }));
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? body : text).compile(schema));
}
