// The subset of GitHub Actions expressions the workflows use: literals, context paths (github.ref, inputs.x,
// secrets.Y), ==, !=, !, &&, || and parentheses, with GitHub's rule that && and || yield an operand, not a boolean,
// and the status functions (a rehearsal evaluates them before any step ran, so as on a successful run).

export type Context = Record<string, unknown>;

type Token =
  | { kind: 'literal'; value: unknown }
  | { kind: 'path'; value: string }
  | { kind: 'op'; value: string };

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  const pattern =
    /\s*(?:'((?:[^']|'')*)'|(\d+(?:\.\d+)?)\b|(true|false|null)\b|([A-Za-z_][\w.-]*)|(==|!=|&&|\|\||!|\(|\)))/y;
  let index = 0;
  while (index < source.length) {
    if (/^\s*$/.test(source.slice(index))) break;
    pattern.lastIndex = index;
    const match = pattern.exec(source);
    if (!match) throw new Error(`cannot read expression at "${source.slice(index)}"`);
    index = pattern.lastIndex;
    if (match[1] !== undefined) tokens.push({ kind: 'literal', value: match[1].replaceAll("''", "'") });
    else if (match[2] !== undefined) tokens.push({ kind: 'literal', value: Number(match[2]) });
    else if (match[3] !== undefined)
      tokens.push({ kind: 'literal', value: match[3] === 'null' ? null : match[3] === 'true' });
    else if (match[4] !== undefined) tokens.push({ kind: 'path', value: match[4] });
    else tokens.push({ kind: 'op', value: match[5]! });
  }
  return tokens;
}

function lookup(context: Context, path: string): unknown {
  let value: unknown = context;
  for (const key of path.split('.')) value = (value as Record<string, unknown> | undefined)?.[key];
  return value ?? '';
}

const STATUS_FUNCTIONS: Record<string, boolean> = {
  always: true,
  success: true,
  failure: false,
  cancelled: false,
};

const truthy = (value: unknown) => value !== '' && value !== 0 && value !== false && value !== null;

export function evaluate(source: string, context: Context): unknown {
  const tokens = tokenize(source);
  let position = 0;
  const peek = () => tokens[position];
  const take = (op: string) => {
    const token = peek();
    if (token?.kind === 'op' && token.value === op) {
      position++;
      return true;
    }
    return false;
  };
  const primary = (): unknown => {
    if (take('!')) return !truthy(primary());
    if (take('(')) {
      const value = or();
      if (!take(')')) throw new Error(`missing ) in "${source}"`);
      return value;
    }
    const token = tokens[position++];
    if (token?.kind === 'literal') return token.value;
    if (token?.kind === 'path' && take('(')) {
      if (!take(')')) throw new Error(`only functions without arguments are read: "${source}"`);
      if (!(token.value in STATUS_FUNCTIONS))
        throw new Error(`unknown function ${token.value}() in "${source}"`);
      return STATUS_FUNCTIONS[token.value];
    }
    if (token?.kind === 'path') return lookup(context, token.value);
    throw new Error(`unexpected ${token ? token.value : 'end'} in "${source}"`);
  };
  const comparison = (): unknown => {
    const left = primary();
    if (take('==')) return String(left) === String(primary());
    if (take('!=')) return String(left) !== String(primary());
    return left;
  };
  const and = (): unknown => {
    let value = comparison();
    while (take('&&')) {
      const right = comparison();
      value = truthy(value) ? right : value;
    }
    return value;
  };
  const or = (): unknown => {
    let value = and();
    while (take('||')) {
      const right = and();
      value = truthy(value) ? value : right;
    }
    return value;
  };
  const value = or();
  if (position !== tokens.length) throw new Error(`trailing tokens in "${source}"`);
  return value;
}

/** Replaces every ${{ ... }} in a string. */
export function interpolate(text: string, context: Context): string {
  return text.replace(/\$\{\{([\s\S]*?)\}\}/g, (_, expression: string) => {
    const value = evaluate(expression, context);
    return value === null || value === undefined ? '' : String(value);
  });
}
