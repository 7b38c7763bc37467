import { lazy } from "preact-iso";
import type { RouteDef } from "../../routes";

// Each page is its own chunk, loaded when first visited (the charts library only with the pages that draw).
const AdminAudit = lazy(() => import("./Audit").then((m) => m.AdminAudit));
const AdminNotifications = lazy(() => import("./Notifications").then((m) => m.AdminNotifications));
const AdminPartners = lazy(() => import("./Partners").then((m) => m.AdminPartners));
const AdminPayments = lazy(() => import("./Payments").then((m) => m.AdminPayments));
const AdminSolutions = lazy(() => import("./Solutions").then((m) => m.AdminSolutions));
const AdminTierLimits = lazy(() => import("./TierLimits").then((m) => m.AdminTierLimits));

export const adminRoutes: RouteDef[] = [
  { path: "/admin/partners", component: AdminPartners, access: "admin", nav: "Partners" },
  { path: "/admin/solutions", component: AdminSolutions, access: "admin", nav: "Solutions" },
  { path: "/admin/payments", component: AdminPayments, access: "admin", nav: "Payments" },
  { path: "/admin/tier-limits", component: AdminTierLimits, access: "admin", nav: "Tier limits" },
  { path: "/admin/notifications", component: AdminNotifications, access: "admin", nav: "Notifications" },
  { path: "/admin/audit", component: AdminAudit, access: "admin", nav: "Audit" },
];
