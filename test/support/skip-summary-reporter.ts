import { relative } from 'node:path';

interface TestEventData {
  name: string;
  file?: string;
  skip?: string | boolean;
}

interface TestEvent {
  type: string;
  data: TestEventData;
}

/**
 * node:test reporter, used beside `spec`: ends the run with one list of what was skipped and why, grouped by
 * reason, so a run missing a server or a binary says so at the end rather than in lines that scrolled by
 * (spec's own "skipped" count leaves out skipped suites). With CI=true nothing skips: a missing requirement fails.
 */
export default async function* skipSummary(source: AsyncIterable<TestEvent>): AsyncGenerator<string> {
  const byReason = new Map<string, string[]>();
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const { skip, name, file } = event.data;
    if (skip === undefined || skip === false) continue;
    const reason = typeof skip === 'string' && skip !== '' ? skip : '(no reason given)';
    const where = file ? `${relative(process.cwd(), file)}: ${name}` : name;
    byReason.set(reason, [...(byReason.get(reason) ?? []), where]);
  }
  const total = [...byReason.values()].reduce((sum, tests) => sum + tests.length, 0);
  if (total === 0) {
    yield '\nskip summary: nothing skipped\n';
    return;
  }
  const lines = [`\nskip summary: ${total} suites or tests skipped, for ${byReason.size} reasons`];
  for (const [reason, tests] of byReason) {
    lines.push(`- ${reason} (${tests.length})`);
    for (const test of tests) lines.push(`    ${test}`);
  }
  yield `${lines.join('\n')}\n`;
}
