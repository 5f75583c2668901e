/**
 * SCIM PATCH (RFC 7644 §3.5.2), applied by scim-patch to the resource as we render it; the
 * caller then compares before and after and writes what changed. Three things real clients send
 * are normalised first:
 * - operation names in any case (`Replace`, Entra; `replace`, Okta), as RFC 7644 §3.5.2 allows;
 * - Entra's string booleans (`"value": "False"` for `active`), in both the `path` form and the
 *   no-path form `{"op": "replace", "value": {"active": false}}` that Okta and Entra send;
 * - Entra's member removal `{"op": "Remove", "path": "members", "value": [{"value": id}]}`,
 *   which means "remove the members with these ids" (matched by id, not by the whole object),
 *   rewritten to the RFC form `members[value eq "id"]` that Okta sends.
 */
import { patchBodyValidation, scimPatch, type ScimPatchOperation, type ScimResource } from "scim-patch";
import { isolatedCopy, pathHasForbiddenKey } from "../safe-json";
import { scimError, type ScimType } from "./errors";
import { PATCH_SCHEMA } from "./resources";

const MAX_OPERATIONS = 1_000;
const ACTIVE_PATH = /^(urn:ietf:params:scim:schemas:core:2\.0:user:)?active$/i;

/** `true`/`false` as booleans; Entra sends "True"/"False" strings. Anything else is returned as is. */
export function looseBoolean(value: unknown): unknown {
  if (typeof value !== "string") return value;
  const lowered = value.trim().toLowerCase();
  return lowered === "true" ? true : lowered === "false" ? false : value;
}

const MEMBERS_PATH = /^(urn:ietf:params:scim:schemas:core:2\.0:group:)?members$/i;
/** Our ids; anything else cannot be a member, so removing it is a no-op. */
const ID = /^[A-Za-z0-9_-]{1,100}$/;

function memberRemovals(value: unknown[]): ScimPatchOperation[] {
  return value
    .map((m) => (m as { value?: unknown } | null)?.value)
    .filter((id): id is string => typeof id === "string" && ID.test(id))
    .map((id) => ({ op: "remove", path: `members[value eq "${id}"]` }));
}

/**
 * SPEC §11: a path through __proto__, constructor or prototype would write to objects every
 * tenant's requests share. (Keys inside `value` are refused with the whole body, readObject.)
 */
function refuseReservedPath(path: unknown): void {
  if (typeof path === "string" && pathHasForbiddenKey(path)) {
    throw scimError("invalid_request", "The PATCH path names a reserved attribute.", "invalidPath");
  }
}

function normalise(raw: unknown): ScimPatchOperation[] {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw scimError("invalid_request", "Each PATCH operation must be an object.", "invalidSyntax");
  }
  const op = raw as { op?: unknown; path?: unknown; value?: unknown };
  refuseReservedPath(op.path);
  const name = typeof op.op === "string" ? op.op.toLowerCase() : op.op;
  if (name === "remove" && typeof op.path === "string" && MEMBERS_PATH.test(op.path.trim()) && Array.isArray(op.value)) {
    return memberRemovals(op.value);
  }
  let value = op.value;
  if (typeof op.path === "string" && ACTIVE_PATH.test(op.path.trim())) value = looseBoolean(value);
  if (op.path === undefined && value !== null && typeof value === "object" && !Array.isArray(value)) {
    const fields = { ...(value as Record<string, unknown>) };
    for (const key of Object.keys(fields)) if (ACTIVE_PATH.test(key)) fields[key] = looseBoolean(fields[key]);
    value = fields;
  }
  return [{ ...op, op: name, ...("value" in op ? { value } : {}) } as ScimPatchOperation];
}

function rethrow(err: unknown): never {
  const scimCode = (err as { scimCode?: unknown })?.scimCode;
  const message = err instanceof Error && err.message ? err.message : "The PATCH request could not be applied.";
  throw scimError("invalid_request", message, (typeof scimCode === "string" ? scimCode : "invalidValue") as ScimType);
}

/** The PatchOp body's operations, validated (400 invalidSyntax / noTarget when malformed). */
export function patchOperations(body: Record<string, unknown>): ScimPatchOperation[] {
  const schemas = body["schemas"];
  if (!Array.isArray(schemas) || !schemas.includes(PATCH_SCHEMA)) {
    throw scimError("invalid_request", `A PATCH body must list the schema ${PATCH_SCHEMA}.`, "invalidSyntax");
  }
  const raw = body["Operations"] ?? body["operations"];
  if (!Array.isArray(raw) || raw.length === 0) throw scimError("invalid_request", "A PATCH body needs a non-empty Operations array.", "invalidSyntax");
  if (raw.length > MAX_OPERATIONS) throw scimError("invalid_request", `At most ${MAX_OPERATIONS} operations per PATCH.`, "tooMany");
  const operations = raw.flatMap(normalise);
  if (operations.length === 0) return operations;
  try {
    patchBodyValidation({ schemas: [PATCH_SCHEMA], Operations: operations });
  } catch (err) {
    rethrow(err);
  }
  return operations;
}

/**
 * `resource` with `operations` applied, on a copy. scim-patch drops a multi-valued attribute
 * once its last value is removed and then refuses a filter on it, so the attributes named in
 * `arrays` are restored as empty lists between operations ("remove the last member, then
 * another one" is a no-op, as RFC 7644 §3.5.2.2 has it for an unmatched filter).
 *
 * The copy and every operation value are isolated copies and reserved paths are refused here
 * too, whoever the caller (SPEC §11): scim-patch assigns by client-given path, and an isolated
 * object has no shared prototype to reach (arrays keep theirs, hence the refusal).
 */
export function applyPatch<T extends object>(resource: T, operations: ScimPatchOperation[], arrays: string[] = []): T {
  const doc = isolatedCopy(resource) as unknown as ScimResource & Record<string, unknown>;
  try {
    for (const operation of operations) {
      refuseReservedPath(operation.path);
      for (const name of arrays) if (doc[name] === undefined) doc[name] = [];
      scimPatch(doc, [isolatedCopy(operation)], { mutateDocument: true, treatMissingAsAdd: true });
    }
  } catch (err) {
    rethrow(err);
  }
  return doc as unknown as T;
}
