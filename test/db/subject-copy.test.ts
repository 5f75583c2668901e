/**
 * The subject copy is defined once (src/db/subject-copy.ts): migration 0004 holds exactly the
 * SQL generated from that definition, and the view the schema declares is the one D1 has.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { orm } from "../../src/db/client";
import { tokenSubjectsLive } from "../../src/db/schema";
import { SUBJECT_SOURCES, subjectCopyStatements } from "../../src/db/subject-copy";

/** A statement as migrations store it: comment lines gone, no trailing semicolon, trimmed. */
function normalized(statement: string): string {
  return statement
    .split("\n")
    .filter((line) => !line.trimStart().startsWith("--"))
    .join("\n")
    .trim()
    .replace(/;$/, "");
}

describe("the subject copy of migration 0004", () => {
  it("is exactly the SQL generated from the one TypeScript definition", () => {
    const migration = env.TEST_MIGRATIONS.find((m) => m.name.startsWith("0004_"));
    expect(migration).toBeDefined();
    expect(migration!.queries.map(normalized)).toEqual(subjectCopyStatements().map(normalized));
  });

  it("has one trigger per source table and event, 22 in all", () => {
    const triggers = subjectCopyStatements().filter((s) => s.startsWith("CREATE TRIGGER"));
    expect(triggers).toHaveLength(22);
    expect(triggers).toHaveLength(SUBJECT_SOURCES.reduce((n, s) => n + s.events.length, 0));
  });

  it("declares in the schema the view D1 holds (it can be read through drizzle)", async () => {
    const rows = await orm(env.DB).select().from(tokenSubjectsLive).limit(1);
    expect(Array.isArray(rows)).toBe(true);
    const views = await env.DB.prepare("SELECT name FROM sqlite_master WHERE type = 'view'").all<{ name: string }>();
    expect(views.results.map((v) => v.name)).toContain("token_subjects_live");
  });
});
