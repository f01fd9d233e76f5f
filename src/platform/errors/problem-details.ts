import { STATUS_CODES } from 'node:http';
import { AppError, BusinessError, type ErrorKind, type InvalidField, SystemError } from './app-error.ts';

/** RFC 9457 problem details, with the request's trace id and, for validation failures, the offending fields. */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance: string;
  trace_id: string;
  errors?: InvalidField[];
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
export const PROBLEM_TYPE_BASE = 'https://problems.user-service.dev/';

interface FastifyLikeError {
  statusCode?: number;
  code?: string;
  message: string;
  validation?: {
    instancePath: string;
    message?: string;
    params?: Record<string, unknown>;
    keyword: string;
  }[];
  validationContext?: string;
}

/** Maps anything thrown into the taxonomy. Framework errors with a 4xx status are the client's fault. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  const candidate = error as FastifyLikeError;
  if (candidate?.validation) {
    return new BusinessError({
      status: 400,
      code: 'validation-failed',
      title: 'Bad Request',
      detail: 'The request does not match the schema.',
      invalidFields: candidate.validation.map((issue) => ({
        field: fieldPath(candidate.validationContext, issue),
        message: issue.message ?? issue.keyword,
      })),
    });
  }
  const status = candidate?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new BusinessError({
      status,
      code: slug(candidate.code ?? STATUS_CODES[status] ?? 'client-error'),
      title: STATUS_CODES[status] ?? 'Client Error',
      detail: candidate.message,
    });
  }
  return new SystemError({
    status: 500,
    code: 'internal',
    title: 'Internal Server Error',
    detail: 'An unexpected error occurred; it has been logged. Quote the trace_id when reporting it.',
    cause: error,
  });
}

function fieldPath(
  context: string | undefined,
  issue: NonNullable<FastifyLikeError['validation']>[number],
): string {
  const missing = issue.keyword === 'required' ? `/${String(issue.params?.missingProperty)}` : '';
  const extra =
    issue.keyword === 'additionalProperties' ? `/${String(issue.params?.additionalProperty)}` : '';
  return `${context ?? 'request'}${issue.instancePath}${missing}${extra}`;
}

function slug(code: string): string {
  return code
    .replace(/^FST_ERR_/, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-');
}

export function toProblem(error: AppError, instance: string, traceId: string): ProblemDetails {
  const problem: ProblemDetails = {
    type: `${PROBLEM_TYPE_BASE}${error.code}`,
    title: error.title,
    status: error.status,
    instance,
    trace_id: traceId,
  };
  if (error.detail !== undefined) problem.detail = error.detail;
  if (error.invalidFields !== undefined) problem.errors = error.invalidFields;
  return problem;
}

export type ErrorObserver = (kind: ErrorKind, error: AppError) => void;
