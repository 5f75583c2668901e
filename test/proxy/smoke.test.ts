import { describe, expect, it } from "vitest";
import { bearer, call, marker, upstreamRequests } from "../helpers/worker";
import { seedOrg, seedPermissionSet, seedUser, seedUserToken } from "../helpers/seed";

describe("proxy smoke", () => {
  it("forwards a valid user token with identity headers", async () => {
    const org = await seedOrg();
    const setId = await seedPermissionSet(org.orgId, ["inspections.view"]);
    const user = await seedUser(org.orgId, { permissionSetIds: [setId] });
    const token = await seedUserToken(org.orgId, user.id);
    const m = marker();
    const res = await call(`/inspections/${m}?q=1`, { headers: bearer(token.secret) });
    expect(res.status).toBe(200);
    const [seen] = await upstreamRequests(m);
    expect(seen!.headers["x-portcullis-subject-id"]).toBe(user.id);
    expect(seen!.headers["authorization"]).toBeUndefined();
  });
});
