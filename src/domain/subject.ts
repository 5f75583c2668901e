/** Who is calling, as the proxy and the management API see it after authentication (SPEC §3). */
export interface Subject {
  type: "user" | "service_user";
  id: string;
  name: string;
  orgId: string;
  /** Sorted, de-duplicated permission strings from the subject's current permission sets. */
  permissions: string[];
  groups: string[];
  sites: string[];
  credential: "api_token" | "session";
  /** The API token used, when credential is "api_token". */
  tokenId: string | null;
  /** Session `auth_time` in seconds, when credential is "session". */
  authTime: number | null;
}
