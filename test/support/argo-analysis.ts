import assert from 'node:assert/strict';

/**
 * Evaluates an Argo Rollouts analysis condition for a Prometheus result. Our conditions use a small,
 * JavaScript-compatible subset of Argo's expr language (len(), indexing, comparisons, &&, ||); anything else is
 * refused rather than guessed.
 */
export function evaluateCondition(condition: string, result: number[]): boolean {
  assert.match(condition, /^[\w\s()[\].<>=&|!]+$/, `condition outside the checked subset: ${condition}`);
  const javascript = condition.replaceAll(/len\((\w+)\)/g, '$1.length');
  return new Function('result', `return (${javascript});`)(result) as boolean;
}

export type MeasurementPhase = 'Successful' | 'Failed' | 'Inconclusive';

/** Argo's rule for one measurement: the success condition first, then the failure one; neither is inconclusive. */
export function measure(
  metric: { successCondition: string; failureCondition: string },
  result: number[],
): MeasurementPhase {
  if (evaluateCondition(metric.successCondition, result)) return 'Successful';
  if (evaluateCondition(metric.failureCondition, result)) return 'Failed';
  return 'Inconclusive';
}
