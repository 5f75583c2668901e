/**
 * The directory (SPEC §4): members, groups, sites and permission sets of one organization, the
 * one write layer behind both the management API and SCIM.
 */
export * from "./collections";
export * from "./groups";
export * from "./members";
export * from "./permission-sets";
export type { Page, Slice, WriteSource } from "./rules";
