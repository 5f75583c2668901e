// Applies the drizzle-kit migrations to this test file's local D1 (storage is isolated per file).
import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";

await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
