/**
 * The demo route policy of SPEC §7. Deployments replace it with the ROUTE_POLICY var (the
 * same JSON shape), so the policy stays data, never code spread over handlers.
 */
import { parsePolicy, type PolicyRuleInput, type RoutePolicy } from "./route-policy";

export const DEMO_POLICY_RULES: PolicyRuleInput[] = [
  { match: "GET /health", public: true },
  { match: "GET /inspections/*", permissions: ["inspections.view"] },
  { match: "POST,PUT,PATCH,DELETE /inspections/*", permissions: ["inspections.edit"] },
];

const parsed = parsePolicy(DEMO_POLICY_RULES);
if (!parsed.ok) throw new Error(`demo policy is invalid: ${parsed.reason}`);
export const DEMO_POLICY: RoutePolicy = parsed.value;
