import { SerializerSelector } from '@fastify/fast-json-stringify-compiler';
import {
  compiledFor,
  compiledSchemas,
  type SerializerRoute,
  schemaCodeRecorder,
  serializerKey,
} from './compiled-schemas.ts';

type SerializerFactory = ReturnType<typeof SerializerSelector>;

/**
 * Fastify's serializer factory (fast-json-stringify, external schemas per encapsulation context) with the
 * response serializers the build compiled ahead of time taken first (see compiled-schemas.ts).
 */
export function responseSerializers(): SerializerFactory {
  const compile = SerializerSelector();
  return (externalSchemas, options) => {
    const fallback = compile(externalSchemas, options);
    let externals: string | undefined;
    return (definition) => {
      const route = definition as SerializerRoute;
      const key = serializerKey(route);
      const source = () => {
        externals ??= JSON.stringify(externalSchemas ?? {});
        return `[${JSON.stringify(route.schema)},${externals}]`;
      };
      const compiled = compiledFor(compiledSchemas?.serializers, key, source);
      if (compiled) return compiled;
      schemaCodeRecorder()?.serializer(key, source(), route, externalSchemas, options);
      return fallback(definition);
    };
  };
}
