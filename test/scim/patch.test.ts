import { describe, expect, it } from "vitest";
import { ApiError } from "../../src/errors";
import { groupFilter, memberFilter } from "../../src/scim/filter";
import { applyPatch, patchOperations } from "../../src/scim/patch";
import { PATCH_OP } from "./support";

const ops = (Operations: unknown[]) => patchOperations({ schemas: [PATCH_OP], Operations });
const group = (members: string[]) => ({ schemas: [], id: "grp_1", displayName: "G", members: members.map((value) => ({ value, display: value, type: "User" })), meta: {} });
const memberIds = (doc: Record<string, unknown>) => ((doc["members"] as { value: string }[] | undefined) ?? []).map((m) => m.value);

function scimTypeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    return (err as ApiError).details?.["scim_type"] as string;
  }
  return undefined;
}

describe("SCIM PATCH normalisation", () => {
  it("accepts operation names in any case", () => {
    const doc = applyPatch({ schemas: [], id: "usr_1", active: true, meta: {} }, ops([{ op: "REPLACE", path: "active", value: false }]));
    expect(doc.active).toBe(false);
  });

  it("turns Entra's string booleans for active into booleans, with and without a path", () => {
    const base = { schemas: [], id: "usr_1", active: true, meta: {} };
    expect(applyPatch(base, ops([{ op: "Replace", path: "active", value: "False" }])).active).toBe(false);
    expect(applyPatch(base, ops([{ op: "Replace", value: { active: "False" } }])).active).toBe(false);
    expect(applyPatch({ ...base, active: false }, ops([{ op: "replace", path: "active", value: "True" }])).active).toBe(true);
  });

  it("removes members by id, whatever else the value object carries (Entra)", () => {
    const doc = applyPatch(group(["usr_a", "usr_b", "usr_c"]), ops([{ op: "Remove", path: "members", value: [{ $ref: null, value: "usr_a" }, { value: "usr_c" }] }]));
    expect(memberIds(doc)).toEqual(["usr_b"]);
  });

  it("removing the last member and then more, or adding after, still works", () => {
    const doc = applyPatch(
      group(["usr_a"]),
      ops([
        { op: "remove", path: 'members[value eq "usr_a"]' },
        { op: "remove", path: 'members[value eq "usr_b"]' },
        { op: "Remove", path: "members", value: [{ value: "usr_c" }] },
        { op: "add", path: "members", value: [{ value: "usr_d" }] },
      ]),
      ["members"],
    );
    expect(memberIds(doc)).toEqual(["usr_d"]);
  });

  it("ignores removal values that cannot be member ids", () => {
    const doc = applyPatch(group(["usr_a"]), ops([{ op: "remove", path: "members", value: [{ value: 'x" or value pr or "' }, { value: 7 }] }]));
    expect(memberIds(doc)).toEqual(["usr_a"]);
  });

  it("rejects malformed bodies with the RFC 7644 scimType", () => {
    expect(scimTypeOf(() => patchOperations({ Operations: [{ op: "add", path: "x", value: 1 }] }))).toBe("invalidSyntax");
    expect(scimTypeOf(() => ops([]))).toBe("invalidSyntax");
    expect(scimTypeOf(() => ops(["replace"]))).toBe("invalidSyntax");
    expect(scimTypeOf(() => ops([{ op: "add", path: "displayName" }]))).toBe("invalidSyntax");
    expect(scimTypeOf(() => ops([{ op: "remove" }]))).toBe("noTarget");
    expect(scimTypeOf(() => ops(Array.from({ length: 1_001 }, () => ({ op: "add", path: "x", value: 1 }))))).toBe("tooMany");
    expect(scimTypeOf(() => applyPatch(group([]), ops([{ op: "replace", path: "members[value eq", value: 1 }])))).toBeDefined();
  });
});

describe("SCIM filters", () => {
  it("maps the equality filters IdPs send to columns", () => {
    expect(memberFilter('userName eq "Dana@Example.com"')).toEqual({ by: "email", value: "Dana@Example.com" });
    expect(memberFilter('USERNAME Eq "a@b.c"')).toEqual({ by: "email", value: "a@b.c" });
    expect(memberFilter('urn:ietf:params:scim:schemas:core:2.0:User:userName eq "a@b.c"')).toEqual({ by: "email", value: "a@b.c" });
    expect(memberFilter('emails[value eq "a@b.c"]')).toEqual({ by: "email", value: "a@b.c" });
    expect(memberFilter('emails.value eq "a@b.c"')).toEqual({ by: "email", value: "a@b.c" });
    expect(memberFilter('id eq "usr_1"')).toEqual({ by: "id", value: "usr_1" });
    expect(memberFilter(undefined)).toBeNull();
    expect(memberFilter("  ")).toBeNull();
    expect(groupFilter('displayName eq "Night shift"')).toEqual({ by: "name", value: "Night shift" });
  });

  it("refuses anything else with invalidFilter", () => {
    for (const f of ['externalId eq "x"', 'userName sw "a"', 'userName eq "a" and active eq true', 'emails[type eq "work"]', "userName eq true", "((", 'displayName eq "x"']) {
      expect(scimTypeOf(() => memberFilter(f)), f).toBe("invalidFilter");
    }
    expect(scimTypeOf(() => groupFilter('userName eq "x"'))).toBe("invalidFilter");
  });
});
