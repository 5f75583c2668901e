/**
 * Sites (SPEC §4): named collections of members whose ids the proxy forwards (SPEC §3.4). Only
 * the management API writes them, through the collection functions of collections.ts; this
 * file names their tables.
 */
import { sites, userSites } from "../schema";

/** The tables of the site collection: the sites and their memberships. */
export const SITE_TABLES = { table: sites, prefix: "site", membership: userSites, memberColumn: userSites.siteId } as const;
