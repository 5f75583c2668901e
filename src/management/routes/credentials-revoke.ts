import type { ManagementApp } from "../common";

// Placeholder: replaced by the implementation of this resource.
export function registerCredentialsRevoke(app: ManagementApp): void {
  void app;
}
