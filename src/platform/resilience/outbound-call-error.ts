/**
 * A failed call to another service. Call policies decide from its two fields whether to try again
 * (`retryable`) and whether the failure speaks against the dependency (`status`, when it answered at all);
 * each client subclasses it so logs and handlers can tell the dependencies apart.
 */
export class OutboundCallError extends Error {
  readonly retryable: boolean;
  readonly status: number | undefined;
  constructor(message: string, options: { retryable: boolean; status?: number; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.retryable = options.retryable;
    this.status = options.status;
  }
}
