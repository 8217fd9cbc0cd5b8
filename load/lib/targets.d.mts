/** Types of targets.mjs, for the unit test (test/load/targets.test.ts). */
export declare const NOT_MEASURED: string;

export interface TargetRow {
  id: string;
  target: string;
  measured: string;
  figure: string;
  status: 'met' | 'missed' | 'not measured';
  note?: string;
  /** The ratio or figure, and the target's bound, where measured. */
  value?: number;
  bound?: number;
}

export declare function issue11Targets(
  rec: { scenarios: Record<string, unknown>; ran?: string[] },
  p?: { burst?: { subscribers: number }; lowrate?: { subscribers: number; rate: number }; sustained?: { subscribers: number; rate: number }; features?: { keys: number } },
): TargetRow[];

export declare function targetsSummary(rows: TargetRow[]): { met: number; missed: number; notMeasured: number };

export declare function issue11Table(rows: TargetRow[], o?: { quick?: boolean }): string;
