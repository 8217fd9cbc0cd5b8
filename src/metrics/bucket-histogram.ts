/**
 * A histogram cheap enough to observe once per cursor drain: fixed bounds, a
 * linear bucket search over a short array, plain number fields, optional
 * labelled children in a Map. prom-client's Histogram hashes labels and
 * allocates on observe; this one does neither. It implements the shape
 * prom-client's Registry reads (`name`, `help`, `type`, `get()`), so it is
 * exposed beside the library's own metrics in one /metrics body.
 */

interface Series {
  counts: Float64Array;
  sum: number;
  count: number;
}

export interface PromValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

export class BucketHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly bounds: Float64Array;
  private readonly labelName: string | null;
  private readonly unlabelled: Series;
  private readonly children = new Map<string, Series>();

  constructor(name: string, help: string, bounds: readonly number[], labelName: string | null = null) {
    this.name = name;
    this.help = help;
    this.bounds = Float64Array.from(bounds);
    this.labelName = labelName;
    this.unlabelled = this.series();
  }

  private series(): Series {
    return { counts: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 };
  }

  /** The series for a label value; cache it at the call site when it is fixed. */
  child(value: string): Series {
    let s = this.children.get(value);
    if (s === undefined) {
      s = this.series();
      this.children.set(value, s);
    }
    return s;
  }

  observe(value: number, series: Series = this.unlabelled): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    series.counts[i]!++;
    series.sum += value;
    series.count++;
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: PromValue[] } {
    const values: PromValue[] = [];
    const emit = (series: Series, labels: Record<string, string>): void => {
      let cumulative = 0;
      for (let i = 0; i <= this.bounds.length; i++) {
        cumulative += series.counts[i]!;
        const le = i < this.bounds.length ? this.bounds[i]! : '+Inf';
        values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le }, value: cumulative });
      }
      values.push({ metricName: `${this.name}_sum`, labels, value: series.sum });
      values.push({ metricName: `${this.name}_count`, labels, value: series.count });
    };
    if (this.labelName === null) emit(this.unlabelled, {});
    else for (const [value, series] of this.children) emit(series, { [this.labelName]: value });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.unlabelled.counts.fill(0);
    this.unlabelled.sum = 0;
    this.unlabelled.count = 0;
    this.children.clear();
  }
}
