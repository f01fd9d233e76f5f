/**
 * The error taxonomy. Every failure the platform reports is one of three kinds:
 * - business: the client asked for something that cannot be done; 4xx with a readable message.
 * - system: a bug or broken invariant; 500, details hidden from the client, logged with stack and counted.
 * - dependency: something we rely on failed; 503 (or a degraded result decided by the caller).
 */
export type ErrorKind = 'business' | 'system' | 'dependency';

export interface InvalidField {
  /** JSON pointer into the request part, e.g. `/email`, prefixed by the part: `body/email`. */
  field: string;
  message: string;
}

export interface AppErrorOptions {
  status: number;
  /** Short slug, turned into the problem `type` URI. */
  code: string;
  title: string;
  detail?: string;
  invalidFields?: InvalidField[];
  headers?: Record<string, string>;
  cause?: unknown;
}

export abstract class AppError extends Error {
  abstract readonly kind: ErrorKind;
  readonly status: number;
  readonly code: string;
  readonly title: string;
  readonly detail: string | undefined;
  readonly invalidFields: InvalidField[] | undefined;
  readonly headers: Record<string, string> | undefined;

  constructor(options: AppErrorOptions) {
    super(options.detail ?? options.title, { cause: options.cause });
    this.status = options.status;
    this.code = options.code;
    this.title = options.title;
    this.detail = options.detail;
    this.invalidFields = options.invalidFields;
    this.headers = options.headers;
  }
}

export class BusinessError extends AppError {
  readonly kind = 'business';
}

export class SystemError extends AppError {
  readonly kind = 'system';
}

export class DependencyError extends AppError {
  readonly kind = 'dependency';
  /** The dependency that failed, e.g. `database` or `risk-service`. */
  readonly dependency: string;

  constructor(dependency: string, options: Partial<AppErrorOptions> = {}) {
    super({
      status: 503,
      code: 'dependency-unavailable',
      title: 'Service Unavailable',
      detail: `A service this request depends on (${dependency}) is unavailable; retry later.`,
      headers: { 'retry-after': '1' },
      ...options,
    });
    this.dependency = dependency;
  }
}

export const notFound = (detail: string) =>
  new BusinessError({ status: 404, code: 'not-found', title: 'Not Found', detail });

export const conflict = (detail: string, invalidFields?: InvalidField[]) =>
  new BusinessError({ status: 409, code: 'conflict', title: 'Conflict', detail, invalidFields });

export const badRequest = (detail: string, invalidFields?: InvalidField[]) =>
  new BusinessError({ status: 400, code: 'validation-failed', title: 'Bad Request', detail, invalidFields });

export const unprocessable = (code: string, detail: string) =>
  new BusinessError({ status: 422, code, title: 'Unprocessable Content', detail });
