import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { BenchEnvironment } from './environment.ts';
import { postgresReachable } from './postgres.ts';

const exec = promisify(execFile);

export interface Prepared {
  goBinary?: string;
  postgresUrl?: string;
  notes: string[];
}

/** Builds what is measured (the bundle, the Go server) and checks PostgreSQL; a missing piece becomes a note. */
export async function prepare(
  root: string,
  work: string,
  environment: BenchEnvironment,
  { build, postgres }: { build: boolean; postgres: boolean },
): Promise<Prepared> {
  const notes: string[] = [];
  if (build) {
    console.log('building the production bundle (npm run build)...');
    await exec(process.execPath, ['scripts/build.ts', 'users'], { cwd: root });
  }
  if (!existsSync(join(root, 'dist/users/main.mjs')))
    throw new Error('dist/users/main.mjs is missing: npm run build');
  let goBinary: string | undefined;
  if (environment.go) {
    goBinary = join(work, 'go-server');
    await exec('go', ['build', '-o', goBinary, '.'], {
      cwd: join(root, 'bench/go'),
      env: { ...process.env, GOFLAGS: '-mod=mod', GOPROXY: 'off', CGO_ENABLED: '0' },
    });
  } else {
    notes.push('go is not on PATH (apt-get install golang-go): no Go baseline, ratio_vs_go is null');
  }
  let postgresUrl: string | undefined;
  if (postgres) {
    const url = process.env.TEST_DATABASE_URL;
    if (!url)
      notes.push(
        'TEST_DATABASE_URL is not set (export TEST_DATABASE_URL=$(cat /tmp/pgurl)): PostgreSQL skipped',
      );
    else if (!(await postgresReachable(url)))
      notes.push('PostgreSQL at TEST_DATABASE_URL does not answer: skipped');
    else postgresUrl = url;
  }
  return { ...(goBinary ? { goBinary } : {}), ...(postgresUrl ? { postgresUrl } : {}), notes };
}
