import type { RouteDef } from "../../routes";
import { Billing } from "./Billing";
import { BillingCanceled, BillingPay, BillingSuccess, PhonePeReturn } from "./BillingReturn";
import { Catalog } from "./Catalog";
import { Home } from "./Home";
import { Solution } from "./Solution";
import { Tokens } from "./Tokens";
import { Usage } from "./Usage";

export const userRoutes: RouteDef[] = [
  { path: "/", component: Home, access: "user", nav: "Home" },
  { path: "/catalog", component: Catalog, access: "user", nav: "Catalog" },
  { path: "/catalog/:id", component: Solution, access: "user" },
  { path: "/tokens", component: Tokens, access: "user", nav: "Tokens" },
  { path: "/usage", component: Usage, access: "user", nav: "Usage" },
  { path: "/billing", component: Billing, access: "user", nav: "Billing" },
  { path: "/billing/success", component: BillingSuccess, access: "user" },
  { path: "/billing/canceled", component: BillingCanceled, access: "user" },
  { path: "/billing/phonepe/return", component: PhonePeReturn, access: "user" },
  { path: "/billing/pay", component: BillingPay, access: "user" },
  { path: "/billing/invoices", component: Billing, access: "user" },
];
