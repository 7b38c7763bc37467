import type { RouteDef } from "../../routes";
import { AdminNotifications } from "./Notifications";
import { AdminPartners } from "./Partners";
import { AdminPayments } from "./Payments";
import { AdminSolutions } from "./Solutions";
import { AdminTierLimits } from "./TierLimits";

export const adminRoutes: RouteDef[] = [
  { path: "/admin/partners", component: AdminPartners, access: "admin", nav: "Partners" },
  { path: "/admin/solutions", component: AdminSolutions, access: "admin", nav: "Solutions" },
  { path: "/admin/payments", component: AdminPayments, access: "admin", nav: "Payments" },
  { path: "/admin/tier-limits", component: AdminTierLimits, access: "admin", nav: "Tier limits" },
  { path: "/admin/notifications", component: AdminNotifications, access: "admin", nav: "Notifications" },
];
