import type { ManagementApp } from "../management/common";

// Placeholder: replaced by the SCIM 2.0 implementation (issue 4).
export function registerScim(app: ManagementApp): void {
  void app;
}
