import { cpSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { EXTERNAL_PACKAGES } from '../build.ts';

/**
 * Copies into the runtime image only the production packages the bundle leaves external, with their dependency
 * closure, then trims what Node never loads at run time (docs, type declarations, source maps, PGlite's optional
 * extension tarballs). Usage: node scripts/docker/runtime-modules.ts <from node_modules> <to node_modules>
 */
// pino-pretty only formats logs on an interactive terminal; the logger falls back to JSON without it.
const RUNTIME_OPTIONAL = new Set(['pino-pretty']);
// PGlite (16 MB of WebAssembly and data) only serves DATABASE_URL=pglite://; an image for PostgreSQL-only
// deployments leaves it out with WITH_PGLITE=false to fit the size budget.
if (process.env.WITH_PGLITE === 'false') RUNTIME_OPTIONAL.add('@electric-sql/pglite');
// Dependencies that packages declare only for their command-line tools, which the service never runs:
// yargs (and its own closure) serves @grpc/proto-loader's code generator, not the loader etcd3 uses.
const CLI_ONLY = new Set(['yargs']);
const [from = 'node_modules', to = 'dist/node_modules'] = process.argv.slice(2);

const wanted = new Set<string>();
const queue = EXTERNAL_PACKAGES.filter((name) => !RUNTIME_OPTIONAL.has(name));
while (queue.length > 0) {
  const name = queue.pop() as string;
  if (wanted.has(name) || name.startsWith('@types/') || CLI_ONLY.has(name)) continue;
  const manifest = join(from, name, 'package.json');
  if (!existsSync(manifest)) continue; // an optional dependency for another platform
  wanted.add(name);
  const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as Record<
    string,
    Record<string, string> | undefined
  >;
  queue.push(...Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies }));
}

const TRIM =
  /(\.[cm]?ts|\.map|\.md|\.markdown|\/CHANGELOG[^/]*|\/(test|tests|docs|example|examples|\.github)|\/@grpc\/proto-loader\/build\/bin)$/i;
for (const name of [...wanted].sort()) {
  cpSync(join(from, name), join(to, name), {
    recursive: true,
    filter: (source) => !TRIM.test(source) && !/pglite\/dist\/([^/]+\.tar\.gz|[^/]+\.cjs)$/.test(source),
  });
}
// Extension entry points of PGlite the service never loads (it uses none).
rmSync(join(to, '@electric-sql/pglite/dist/contrib'), { recursive: true, force: true });
console.log(`runtime packages: ${[...wanted].sort().join(', ')}`);
