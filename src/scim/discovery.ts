/**
 * SCIM discovery (RFC 7644 §4): what this service provider supports, its resource types and
 * the schemas of the attributes it stores (RFC 7643 §5–§7). Attributes outside these schemas
 * are accepted in requests and ignored.
 */
import type { ApiApp } from "../http/router";
import { scimError } from "./errors";
import { MAX_RESULTS, scimBase, scimJson, type ScimContext } from "./http";
import { GROUP_SCHEMA, listResponse, USER_SCHEMA } from "./resources";

const SPC_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const RESOURCE_TYPE_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const SCHEMA_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema";

interface Attribute {
  name: string;
  type: "string" | "boolean" | "complex" | "reference";
  multiValued: boolean;
  description: string;
  required: boolean;
  caseExact: boolean;
  mutability: "readOnly" | "readWrite" | "immutable";
  returned: "always" | "default";
  uniqueness: "none" | "server";
  subAttributes?: Attribute[];
  referenceTypes?: string[];
}

function attr(name: string, description: string, more: Partial<Attribute> = {}): Attribute {
  return {
    name,
    type: "string",
    multiValued: false,
    description,
    required: false,
    caseExact: false,
    mutability: "readWrite",
    returned: "default",
    uniqueness: "none",
    ...more,
  };
}

const SCHEMAS = [
  {
    id: USER_SCHEMA,
    name: "User",
    description: "A human member of the organization.",
    attributes: [
      attr("userName", "The member's email address; unique in the organization (case-insensitive).", { required: true, uniqueness: "server" }),
      attr("name", "The member's name.", {
        type: "complex",
        subAttributes: [
          attr("formatted", "The member's full name (same as displayName)."),
          attr("givenName", "Used for the member's name when displayName and formatted are absent (with familyName)."),
          attr("familyName", "Used for the member's name when displayName and formatted are absent (with givenName)."),
        ],
      }),
      attr("displayName", "The member's name, at most 100 characters."),
      attr("emails", "The member's email (always userName).", {
        type: "complex",
        multiValued: true,
        mutability: "readOnly",
        subAttributes: [attr("value", "Email address."), attr("type", "Always work."), attr("primary", "Always true.", { type: "boolean" })],
      }),
      attr("active", "false deactivates the member and ends their API tokens for good.", { type: "boolean" }),
      attr("groups", "Groups the member belongs to (change them through Groups).", {
        type: "complex",
        multiValued: true,
        mutability: "readOnly",
        subAttributes: [attr("value", "Group id.", { mutability: "readOnly" }), attr("display", "Group name.", { mutability: "readOnly" })],
      }),
    ],
  },
  {
    id: GROUP_SCHEMA,
    name: "Group",
    description: "A group of members; the proxy forwards group ids with each request of a member's token.",
    attributes: [
      attr("displayName", "The group's name, at most 100 characters; unique in the organization (case-insensitive).", {
        required: true,
        uniqueness: "server",
      }),
      attr("members", "Members of the group (users of this organization).", {
        type: "complex",
        multiValued: true,
        subAttributes: [
          attr("value", "User id.", { mutability: "immutable" }),
          attr("display", "The user's name.", { mutability: "readOnly" }),
          attr("type", "Always User.", { mutability: "readOnly" }),
        ],
      }),
    ],
  },
];

function schemaResource(schema: (typeof SCHEMAS)[number], base: string) {
  return { schemas: [SCHEMA_SCHEMA], ...schema, meta: { resourceType: "Schema", location: `${base}/Schemas/${schema.id}` } };
}

const RESOURCE_TYPES = [
  { id: "User", name: "User", endpoint: "/Users", description: "Organization members", schema: USER_SCHEMA },
  { id: "Group", name: "Group", endpoint: "/Groups", description: "Groups of members", schema: GROUP_SCHEMA },
];

function resourceTypeResource(type: (typeof RESOURCE_TYPES)[number], base: string) {
  return {
    schemas: [RESOURCE_TYPE_SCHEMA],
    ...type,
    schemaExtensions: [],
    meta: { resourceType: "ResourceType", location: `${base}/ResourceTypes/${type.id}` },
  };
}

function serviceProviderConfig(c: ScimContext) {
  const base = scimBase(c);
  return {
    schemas: [SPC_SCHEMA],
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: MAX_RESULTS },
    changePassword: { supported: false },
    sort: { supported: false },
    etag: { supported: false },
    authenticationSchemes: [
      {
        type: "oauthbearertoken",
        name: "Service user API token",
        description: "Authorization: Bearer <pcs_… token> of a service user holding platform_management.users and platform_management.groups.",
        primary: true,
      },
    ],
    meta: { resourceType: "ServiceProviderConfig", location: `${base}/ServiceProviderConfig` },
  };
}

/** Discovery endpoints take no filter (RFC 7644 §4). */
function refuseFilter(c: ScimContext): void {
  if (c.req.query("filter") !== undefined) throw scimError("forbidden", "Discovery endpoints do not support filtering.");
}

/** A fixed catalogue served as a list (no filter, no paging) and by id (RFC 7644 §4). */
function serveCatalogue<T extends { id: string }>(app: ApiApp, path: string, noun: string, items: T[], resource: (item: T, base: string) => object): void {
  app.get(`/scim/v2/${path}`, (c) => {
    refuseFilter(c);
    const base = scimBase(c);
    return scimJson(listResponse(items.map((item) => resource(item, base)), items.length, 1));
  });
  app.get(`/scim/v2/${path}/:id`, (c) => {
    const item = items.find((i) => i.id === c.req.param("id"));
    if (!item) throw scimError("not_found", `${noun} ${JSON.stringify(c.req.param("id"))} not found.`);
    return scimJson(resource(item, scimBase(c)));
  });
}

export function registerScimDiscovery(app: ApiApp): void {
  app.get("/scim/v2/ServiceProviderConfig", (c) => scimJson(serviceProviderConfig(c)));

  serveCatalogue(app, "ResourceTypes", "ResourceType", RESOURCE_TYPES, resourceTypeResource);
  serveCatalogue(app, "Schemas", "Schema", SCHEMAS, schemaResource);
}
