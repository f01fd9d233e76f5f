import { cp, readdir, readFile } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { build, type Plugin } from 'esbuild';

/**
 * Bundles each service's entry points into dist/<service>/*.mjs for the container image. Packages that load files
 * from their own folder at run time (WebAssembly, static assets, worker threads) stay external and ship as
 * production dependencies beside the bundle.
 */
export const EXTERNAL_PACKAGES = ['@electric-sql/pglite', '@fastify/swagger-ui', 'pino-pretty', 'etcd3'];
const ENTRY_POINTS = ['main.ts', 'migrate.ts'];
/** Platform modules a service starts as worker threads, bundled beside its entry points under these names. */
const WORKER_ENTRY_POINTS = { 'otlp-export-worker': 'src/platform/tracing/otlp-export-worker.ts' };

/**
 * Node's built-in modules reached through `import` become `require()` calls in the bundle. An ESM import of a
 * built-in makes Node build its ESM facade, which reads every export, getters included: `node:http`'s `WebSocket`
 * and `EventSource` getters then load all of undici (~40 ms of CPU at start-up, ~0.2 s at the pod's 0.2 CPU).
 * esbuild's CommonJS interop copies exports as lazy getters, so nothing is loaded before it is used.
 */
const builtinsThroughRequire: Plugin = {
  name: 'builtins-through-require',
  setup(build) {
    build.onResolve({ filter: /^node:|^[a-z_]+(\/[a-z_]+)?$/ }, (args) => {
      if (args.kind !== 'import-statement' && args.kind !== 'dynamic-import') return undefined;
      const name = args.path.replace(/^node:/, '');
      if (!isBuiltin(name)) return undefined;
      return { path: `node:${name}`, namespace: 'builtin-through-require' };
    });
    build.onLoad({ filter: /.*/, namespace: 'builtin-through-require' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
  },
};

/**
 * require()s in dependencies that start-up pays for and a request rarely or never needs, made on first use instead.
 * Each statement must be found as written, so an upgrade that changes it fails the build rather than the bundle.
 */
const DEFERRED_REQUIRES = [
  {
    // Its module loads http, https (and so tls) and zlib: ~14 ms of CPU at start-up for a push client never used.
    file: 'node_modules/prom-client/index.js',
    statement: "exports.Pushgateway = require('./lib/pushgateway');",
    deferred:
      "Object.defineProperty(exports, 'Pushgateway', { enumerable: true, get: () => require('./lib/pushgateway') });",
  },
  {
    // Fastify requires https and http2 at load for servers configured with `https` or `http2` options; node:https
    // loads tls, and the two are ~14 ms of CPU at start-up (~70 ms at the pod's 0.2 CPU) for a plain HTTP server.
    file: 'node_modules/fastify/lib/server.js',
    statement: "const https = require('node:https')\nconst http2 = require('node:http2')",
    deferred:
      "const https = { createServer: (...args) => require('node:https').createServer(...args) }\nconst http2 = { createServer: (...args) => require('node:http2').createServer(...args), createSecureServer: (...args) => require('node:http2').createSecureServer(...args) }",
  },
  {
    // ip-address builds its special-purpose address tables at load (~10 ms); only IPv6 client keys use it.
    file: 'node_modules/@fastify/rate-limit/index.js',
    statement: "const { Address6 } = require('ip-address')",
    deferred:
      "let ipAddress\nfunction Address6 (...args) { ipAddress ??= require('ip-address'); return new ipAddress.Address6(...args) }",
  },
];

const deferredRequires: Plugin = {
  name: 'deferred-requires',
  setup(build) {
    build.onLoad({ filter: /[\\/]node_modules[\\/].*\.js$/ }, async (args) => {
      const entry = DEFERRED_REQUIRES.find(({ file }) => args.path.endsWith(file));
      if (entry === undefined) return undefined;
      const source = await readFile(args.path, 'utf8');
      if (!source.includes(entry.statement))
        throw new Error(`${entry.file} no longer has: ${entry.statement}`);
      return { contents: source.replace(entry.statement, entry.deferred), loader: 'js' };
    });
  },
};

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** Packages of constants only whose CommonJS build a dependency may require(): thousands of exports, a few used. */
const CONSTANTS_PACKAGES = ['@opentelemetry/semantic-conventions'];

/**
 * A CommonJS dependency's `require()` of a constants package gets a module exporting only the constants that file
 * reads, taken from the package's ES module build. Without it the whole CommonJS build is bundled and run at
 * start-up (@opentelemetry/instrumentation-undici: 173 KiB of the bundle, ~4 ms of CPU before ready, ~20 ms at
 * the pod's 0.2 CPU). The file must read them as `<binding>.NAME` from `const <binding> = require("...")`, the
 * TypeScript compiler's output, or the build fails rather than bundle the whole package again.
 */
const constantsRequiredByName: Plugin = {
  name: 'constants-required-by-name',
  setup(build) {
    const names = CONSTANTS_PACKAGES.map(escapeRegExp);
    build.onResolve({ filter: new RegExp(`^(${names.join('|')})$`) }, async (args) => {
      if (args.kind !== 'require-call') return undefined;
      const source = await readFile(args.importer, 'utf8');
      const binding = new RegExp(
        `(?:const|var|let)\\s+(\\w+)\\s*=\\s*require\\(["']${escapeRegExp(args.path)}["']\\);`,
      ).exec(source)?.[1];
      if (binding === undefined)
        return {
          errors: [
            { text: `${args.importer}: require("${args.path}") is not bound as "const x = require(...)"` },
          ],
        };
      const used = [
        ...new Set([...source.matchAll(new RegExp(`\\b${binding}\\.(\\w+)`, 'g'))].map((m) => m[1])),
      ];
      return {
        path: `${args.path}#${args.importer}`,
        namespace: 'constants-by-name',
        pluginData: { used, from: args.path, importerDir: dirname(args.importer) },
      };
    });
    build.onLoad({ filter: /.*/, namespace: 'constants-by-name' }, (args) => {
      const { used, from, importerDir } = args.pluginData as {
        used: string[];
        from: string;
        importerDir: string;
      };
      return {
        contents: `export { ${used.join(', ')} } from '${from}';`,
        loader: 'js',
        resolveDir: importerDir,
      };
    });
  },
};

/**
 * External packages are reached through `await import()` only: the bundle hoists a static import of one to its top,
 * and an image that leaves the package out (PGlite, Swagger UI) would then fail to start at all.
 */
const externalsLoadedOnUse: Plugin = {
  name: 'externals-loaded-on-use',
  setup(build) {
    const names = EXTERNAL_PACKAGES.map(escapeRegExp);
    build.onResolve({ filter: new RegExp(`^(${names.join('|')})(/|$)`) }, (args) => {
      if (args.kind === 'dynamic-import') return undefined;
      return {
        errors: [{ text: `${args.path} is external: import it with await import() where it is used` }],
      };
    });
  },
};

/** The module whose empty table the bundle replaces with the service's compiled schemas. */
const COMPILED_SCHEMAS_MODULE = 'src/platform/http/compiled-schemas.ts';
const EMPTY_TABLE = 'export const compiledSchemas: CompiledSchemaTable | undefined = undefined;';

/**
 * Validators and serializers compiled at build time (see src/platform/http/compiled-schemas.ts), for a service
 * that says how to build its application without running it (`schema-compilation.ts`).
 */
async function compiledSchemasPlugin(serviceDir: string): Promise<Plugin | undefined> {
  const files = await readdir(serviceDir);
  if (!files.includes('schema-compilation.ts')) return undefined;
  const { generateSchemaCode } = await import(resolve('src/platform/http/schema-code.ts'));
  const { appForSchemaCompilation } = await import(resolve(serviceDir, 'schema-compilation.ts'));
  const table: string = await generateSchemaCode(appForSchemaCompilation);
  return {
    name: 'compiled-schemas',
    setup(build) {
      build.onLoad({ filter: /compiled-schemas\.ts$/ }, async (args) => {
        if (args.path !== resolve(COMPILED_SCHEMAS_MODULE)) return undefined;
        const source = await readFile(args.path, 'utf8');
        if (!source.includes(EMPTY_TABLE))
          throw new Error(`${COMPILED_SCHEMAS_MODULE} no longer has: ${EMPTY_TABLE}`);
        const filled = EMPTY_TABLE.replace(' = undefined;', ' = compiledSchemaTable;');
        return {
          contents: source.replace(
            EMPTY_TABLE,
            `import { compiledSchemaTable } from 'compiled-schema-table';\n${filled}`,
          ),
          loader: 'ts',
        };
      });
      build.onResolve({ filter: /^compiled-schema-table$/ }, () => ({
        path: 'table',
        namespace: 'compiled-schema-table',
      }));
      build.onLoad({ filter: /.*/, namespace: 'compiled-schema-table' }, () => ({
        contents: table,
        loader: 'js',
        resolveDir: process.cwd(),
      }));
    },
  };
}

const PGLITE_TEMPLATE_MODULE = 'src/platform/database/pglite-template.ts';
const PGLITE_TEMPLATE_DIRECTORY = 'src/platform/database/pglite-template';

const servicesDir = 'src/services';
const only = process.argv[2];
for (const service of await readdir(servicesDir)) {
  if (only && service !== only) continue;
  const files = await readdir(join(servicesDir, service));
  const entryPoints: Record<string, string> = { ...WORKER_ENTRY_POINTS };
  for (const file of ENTRY_POINTS.filter((name) => files.includes(name)))
    entryPoints[file.replace(/\.ts$/, '')] = join(servicesDir, service, file);
  const compiledSchemas = await compiledSchemasPlugin(join(servicesDir, service));
  const result = await build({
    entryPoints,
    outdir: join('dist', service),
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    // A package's ES module build where it has one: esbuild can drop what is not imported from it, which its
    // CommonJS build does not allow (@opentelemetry/semantic-conventions is thousands of constants, of which
    // two are used; the OTLP transformer's metrics and logs half and the metrics SDK go entirely).
    mainFields: ['module', 'main'],
    target: 'node24',
    format: 'esm',
    // Identifiers stay unminified, so classes and functions keep their own names (error `type` in logs, plugin
    // names) without `keepNames`: that wraps every function in a `__name()` call, paid again each time a closure
    // is made on the hot path (a quarter of a request's CPU). Colliding names still get a suffix (`DatabaseError2`).
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: 'linked',
    sourcesContent: false,
    legalComments: 'linked',
    external: EXTERNAL_PACKAGES,
    plugins: [
      externalsLoadedOnUse,
      builtinsThroughRequire,
      deferredRequires,
      constantsRequiredByName,
      ...(compiledSchemas ? [compiledSchemas] : []),
    ],
    // CommonJS dependencies inside an ESM bundle still call require() and use __dirname.
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module'; import { fileURLToPath as __fileURLToPath } from 'node:url'; const require = __createRequire(import.meta.url); const __filename = __fileURLToPath(import.meta.url); const __dirname = __filename.slice(0, __filename.lastIndexOf('/'));",
    },
    metafile: true,
    logLevel: 'warning',
  });
  const bytes = Object.values(result.metafile.outputs).reduce((sum, output) => sum + output.bytes, 0);
  // The embedded database's initdb image is read beside the bundle (see pglite-template.ts): a bundle that
  // includes that module gets the directory, so a new data directory does not run initdb (3 to 6 s).
  if (PGLITE_TEMPLATE_MODULE in result.metafile.inputs)
    await cp(PGLITE_TEMPLATE_DIRECTORY, join('dist', service, 'pglite-template'), { recursive: true });
  console.log(
    `built ${service}: ${Object.keys(entryPoints).length} entry points, ${(bytes / 1024).toFixed(0)} KiB`,
  );
}
