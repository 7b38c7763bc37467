import { lazy } from "preact-iso";
import type { RouteDef } from "../../routes";
import { Home } from "./Home";

// Each page is its own chunk, loaded when first visited (the charts library only with the pages that draw).
const Account = lazy(() => import("./Account").then((m) => m.Account));
const Billing = lazy(() => import("./Billing").then((m) => m.Billing));
const BillingCanceled = lazy(() => import("./BillingReturn").then((m) => m.BillingCanceled));
const BillingPay = lazy(() => import("./BillingReturn").then((m) => m.BillingPay));
const BillingSuccess = lazy(() => import("./BillingReturn").then((m) => m.BillingSuccess));
const PhonePeReturn = lazy(() => import("./BillingReturn").then((m) => m.PhonePeReturn));
const Catalog = lazy(() => import("./Catalog").then((m) => m.Catalog));
const Solution = lazy(() => import("./Solution").then((m) => m.Solution));
const Tokens = lazy(() => import("./Tokens").then((m) => m.Tokens));
const Usage = lazy(() => import("./Usage").then((m) => m.Usage));

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
  { path: "/account", component: Account, access: "user", nav: "Account" },
];
