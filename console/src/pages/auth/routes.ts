import type { RouteDef } from "../../routes";
import { SignIn } from "./SignIn";
import { SignUp } from "./SignUp";
import { VerifyEmail } from "./VerifyEmail";

export const authRoutes: RouteDef[] = [
  { path: "/sign-in", component: SignIn, access: "public" },
  { path: "/sign-up", component: SignUp, access: "public" },
  { path: "/verify-email", component: VerifyEmail, access: "public" },
];
