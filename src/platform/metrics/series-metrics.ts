import type { Registry } from 'prom-client';

/**
 * Counters and histograms for the request path, whose callers hold their labelled series. prom-client's
 * children, even looked up once, re-check and re-hash the whole label set on every observe and inc (the HTTP
 * metrics were 8 % of a GET's CPU); here a series is found once by its label values and then updated with a few
 * additions. They register in a prom-client Registry like its own metrics and expose the same text: same names,
 * label order, buckets and values.
 */

type Labels<L extends string> = Readonly<Record<L, string>>;

/** prom-client's shape of one exported value: the series' labels shared, the sample's own (`le`) apart. */
interface ExportedValue {
  labels: Readonly<Record<string, string | number>>;
  value: number;
  /** The metric's own name when absent. */
  metricName?: string;
  sharedLabels?: Readonly<Record<string, string>>;
  /** prom-client gives buckets one (null without exemplars); kept so the JSON matches. */
  exemplar?: null;
}

/** What a prom-client Registry reads from a metric at scrape time. */
interface ExportedMetric<V> {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  values: V[];
  aggregator: 'sum';
}

/** The label values in label-name order: one key per series whatever the order the caller built its object in. */
function seriesKey<L extends string>(labelNames: readonly L[], labels: Labels<L>): string {
  let key = '';
  for (const name of labelNames) {
    const value = labels[name];
    if (typeof value !== 'string') throw new TypeError(`label ${name} has no value`);
    key += `${value}\u0000`;
  }
  return key;
}

function checkLabels<L extends string>(metric: string, labelNames: readonly L[], labels: Labels<L>): void {
  for (const name of Object.keys(labels)) {
    if (!(labelNames as readonly string[]).includes(name)) {
      throw new Error(`metric ${metric} has no label ${name} (its labels: ${labelNames.join(', ')})`);
    }
  }
}

/** prom-client's get(): each value's series labels merged into its own. */
const splayed = (values: ExportedValue[]): ExportedValue[] =>
  values.map(({ sharedLabels, ...value }) => ({ ...value, labels: { ...value.labels, ...sharedLabels } }));

abstract class SeriesMetric<L extends string, S extends { reset(): void }> {
  abstract readonly type: 'counter' | 'histogram';
  readonly aggregator = 'sum' as const;
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  readonly #series = new Map<string, S>();

  constructor(name: string, help: string, labelNames: readonly L[]) {
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
  }

  /** The series with these label values, made at the first call. */
  series(labels: Labels<L>): S {
    const key = seriesKey(this.labelNames, labels);
    let series = this.#series.get(key);
    if (series === undefined) {
      checkLabels(this.name, this.labelNames, labels);
      series = this.create({ ...labels });
      this.#series.set(key, series);
    }
    return series;
  }

  protected abstract create(labels: Labels<L>): S;
  protected abstract export(series: S): ExportedValue[];

  /** What the registry writes as text. */
  async getForPromString(): Promise<ExportedMetric<ExportedValue>> {
    const values: ExportedValue[] = [];
    for (const series of this.#series.values()) values.push(...this.export(series));
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** What the registry gives as JSON (and `getSingleMetric(name).get()`). */
  async get(): Promise<ExportedMetric<ExportedValue>> {
    const text = await this.getForPromString();
    return { ...text, values: splayed(text.values) };
  }

  /** Zeroes every series. Unlike prom-client's reset the series stay listed: their callers hold them. */
  reset(): void {
    for (const series of this.#series.values()) series.reset();
  }
}

export class CounterSeries {
  readonly labels: Readonly<Record<string, string>>;
  value = 0;

  constructor(labels: Readonly<Record<string, string>>) {
    this.labels = labels;
  }

  inc(amount = 1): void {
    if (!(amount >= 0) || !Number.isFinite(amount)) throw new TypeError(`a counter cannot add ${amount}`);
    this.value += amount;
  }

  reset(): void {
    this.value = 0;
  }
}

export class SeriesCounter<L extends string> extends SeriesMetric<L, CounterSeries> {
  readonly type = 'counter' as const;

  protected create(labels: Labels<L>): CounterSeries {
    return new CounterSeries(labels);
  }

  protected export(series: CounterSeries): ExportedValue[] {
    return [{ labels: series.labels, value: series.value }];
  }
}

export class HistogramSeries {
  readonly labels: Readonly<Record<string, string>>;
  readonly upperBounds: readonly number[];
  /** Observations per bucket (not cumulative); a value above every bound is only in `count` (the +Inf bucket). */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(labels: Readonly<Record<string, string>>, upperBounds: readonly number[]) {
    this.labels = labels;
    this.upperBounds = upperBounds;
    this.counts = new Float64Array(upperBounds.length);
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`a histogram cannot observe ${value}`);
    const bounds = this.upperBounds;
    let bucket = 0;
    while (bucket < bounds.length && value > (bounds[bucket] as number)) bucket += 1;
    if (bucket < bounds.length) this.counts[bucket] = (this.counts[bucket] as number) + 1;
    this.sum += value;
    this.count += 1;
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}

export class SeriesHistogram<L extends string> extends SeriesMetric<L, HistogramSeries> {
  readonly type = 'histogram' as const;

  readonly upperBounds: readonly number[];

  constructor(name: string, help: string, labelNames: readonly L[], upperBounds: readonly number[]) {
    super(name, help, labelNames);
    this.upperBounds = upperBounds;
  }

  protected create(labels: Labels<L>): HistogramSeries {
    return new HistogramSeries(labels, this.upperBounds);
  }

  protected export(series: HistogramSeries): ExportedValue[] {
    const bucket = `${this.name}_bucket`;
    const values: ExportedValue[] = [];
    let cumulative = 0;
    series.upperBounds.forEach((bound, index) => {
      cumulative += series.counts[index] as number;
      values.push({
        labels: { le: bound },
        value: cumulative,
        metricName: bucket,
        sharedLabels: series.labels,
        exemplar: null,
      });
    });
    values.push(
      {
        labels: { le: '+Inf' },
        value: series.count,
        metricName: bucket,
        sharedLabels: series.labels,
        exemplar: null,
      },
      { labels: {}, value: series.sum, metricName: `${this.name}_sum`, sharedLabels: series.labels },
      { labels: {}, value: series.count, metricName: `${this.name}_count`, sharedLabels: series.labels },
    );
    return values;
  }
}

/** Registers `metric` in `registry`, which writes it out with the registry's default labels like its own. */
export function registerSeriesMetric<M extends SeriesMetric<string, { reset(): void }>>(
  registry: Registry,
  metric: M,
): M {
  registry.registerMetric(metric as never);
  return metric;
}
