/**
 * What the secret-leak tests look for (AGENTS.md: a secret is stored, logged and returned
 * nowhere but in the response that creates it): a secret or any long part of it, in any text.
 */
import { expect, vi } from "vitest";

/**
 * The secret, its random body, and runs of `run` characters from either end: a partial copy is a
 * leak too. With `step`, also every run of the body that starts `step` characters after the last.
 */
export function needles(secret: string, run: number, step?: number): string[] {
  const out = [secret, secret.slice(4), secret.slice(4, 4 + run), secret.slice(4 + run, 4 + 2 * run), secret.slice(-run)];
  if (step !== undefined) for (let i = 4; i + run <= secret.length; i += step) out.push(secret.slice(i, i + run));
  return out;
}

/** Asserts that `text` holds none of `secrets`, whole or as a run of `run` characters (every `step` characters, when given). */
export function expectNoSecret(text: string, secrets: string[], where: string, run: number, step?: number): void {
  for (const secret of secrets) {
    for (const needle of needles(secret, run, step)) expect(text.includes(needle), `${where} holds part of a secret`).toBe(false);
  }
}

/** Every console line from now until `vi.restoreAllMocks()`, as text (an Error with its stack). */
export function captureConsole(): string[] {
  const logged: string[] = [];
  for (const level of ["log", "info", "warn", "error", "debug"] as const) {
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      logged.push(args.map((a) => (a instanceof Error ? `${a.message} ${a.stack}` : typeof a === "string" ? a : JSON.stringify(a))).join(" "));
    });
  }
  return logged;
}
