/**
 * Whether the `fanwire` command should re-execute itself with
 * `--max-semi-space-size=4` (src/cli.ts says why), and how.
 */

export const YOUNG_GENERATION_FLAG = '--max-semi-space-size=4';

interface ProcessLike {
  execArgv: readonly string[];
  argv: readonly string[];
  env: NodeJS.ProcessEnv;
  execPath: string;
  execve?: (file: string, args: readonly string[], env: NodeJS.ProcessEnv) => never;
}

/** The re-execution to run, or null when the flag is already set (or cannot be set this way). */
export function youngGenerationExec(proc: ProcessLike): (() => never) | null {
  const given = (s: string): boolean => /(^|\s)--max[-_]semi[-_]space[-_]size\b/.test(s);
  if (proc.execArgv.some(given) || given(proc.env.NODE_OPTIONS ?? '')) return null;
  const execve = proc.execve;
  if (typeof execve !== 'function') return null;
  const args = [proc.execPath, YOUNG_GENERATION_FLAG, ...proc.execArgv, ...proc.argv.slice(1)];
  return () => execve.call(proc, proc.execPath, args, proc.env);
}
