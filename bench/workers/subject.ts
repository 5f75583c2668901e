// The constant subject the two informational ceilings (signing-floor, reference-signed) sign for:
// the shape of a bench service user, so the assertion and headers are the size Portcullis sends.
import type { Subject } from "../../src/auth/subject";

export const BENCH_SUBJECT: Subject = {
  type: "service_user",
  id: "svc_bench_0",
  name: "Bench Integration 0",
  orgId: "org_bench",
  permissions: ["inspections.edit", "inspections.view", "integrations.manage"],
  groups: [],
  sites: [],
  credential: "api_token",
  tokenId: "tok_bench_s0",
  authTime: null,
};
