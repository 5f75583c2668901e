/**
 * Who a credential acts as. The type lives in the domain and is re-exported here for the auth and
 * proxy modules; `tokenSubject` is the one builder of an API token's subject, used by the token
 * check and by the bench's SPEC floor, so both hand the proxy the same object.
 */
import type { ResolvedToken } from "../db/token-row";
import type { Subject } from "../domain/subject";

export type { Subject };

/**
 * The subject an API token acts as (SPEC §3): its service user or member, with the permissions,
 * groups and sites of the subject copy the resolve read in the same row.
 */
export function tokenSubject(token: ResolvedToken): Subject {
  return {
    type: token.kind,
    id: token.subjectId,
    name: token.subjectName,
    orgId: token.orgId,
    permissions: token.permissions,
    groups: token.groups,
    sites: token.sites,
    credential: "api_token",
    tokenId: token.tokenId,
    authTime: null,
  };
}
