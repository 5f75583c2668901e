/**
 * The shared security tests every protected management route gets (STYLE: unkey's habit):
 * no credential → 401, bad credential → 401 invalid_token, a caller lacking the route's
 * permission → 403. Cross-organization checks are route-specific and live beside each route's
 * tests (an id from another org must be 404).
 */
import { describe, expect, it } from "vitest";
import { generateToken } from "../../src/token/format";
import { api } from "./worker";
import { seedOrg, seedServiceToken, type SeededOrg } from "./seed";
import { errorCode } from "./errors";

export interface ProtectedRoute {
  method: "GET" | "POST" | "PATCH" | "PUT" | "DELETE";
  /** Path below the management prefix; may depend on data made in `prepare`. */
  path: string | ((org: SeededOrg) => Promise<string> | string);
  body?: unknown;
  /** The permission the route needs; omit for routes any authenticated subject may call. */
  permission?: string;
}

export function describeSecurity(name: string, route: ProtectedRoute): void {
  describe(`${name}: shared security`, () => {
    const pathFor = async (org: SeededOrg) => (typeof route.path === "string" ? route.path : await route.path(org));

    it("rejects a request without a credential with 401 and a Bearer challenge", async () => {
      const org = await seedOrg();
      const res = await api(route.method, await pathFor(org), null, route.body);
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer realm="portcullis"/);
      expect(await errorCode(res)).toBe("unauthorized");
    });

    it("rejects an unknown token with 401 invalid_token", async () => {
      const org = await seedOrg();
      const res = await api(route.method, await pathFor(org), generateToken("service_user"), route.body);
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toContain('error="invalid_token"');
      expect(await errorCode(res)).toBe("invalid_token");
    });

    it("rejects a garbage session JWT with 401 invalid_token", async () => {
      const org = await seedOrg();
      const res = await api(route.method, await pathFor(org), "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl", route.body);
      expect(res.status).toBe(401);
      expect(await errorCode(res)).toBe("invalid_token");
    });

    if (route.permission) {
      it(`rejects a caller without ${route.permission} with 403`, async () => {
        const org = await seedOrg();
        const powerless = await seedServiceToken(org.orgId, { permissionSetIds: [] });
        const res = await api(route.method, await pathFor(org), powerless.secret, route.body);
        expect(res.status).toBe(403);
        expect(["insufficient_permissions", "forbidden"]).toContain(await errorCode(res));
      });
    }
  });
}
