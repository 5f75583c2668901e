import type { D1Migration } from "cloudflare:test";
import type { Env as PortcullisEnv } from "../src/env";

declare global {
  namespace Cloudflare {
    interface Env extends PortcullisEnv {
      DB: D1Database;
      TEST_MIGRATIONS: D1Migration[];
    }
  }
}
