//! Typed API errors with stable codes, rendered as RFC 9457 `application/problem+json`.
//!
//! Every 4xx names what the caller got wrong (`errors[].field`); 5xx never carries internals (they are
//! logged, without secrets, and replaced by a generic detail).

use serde::Serialize;
use std::borrow::Cow;

/// One offending input field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// Stable machine-readable error codes. Clients match on these; never rename one.
pub mod codes {
    pub const VALIDATION_FAILED: &str = "validation_failed";
    pub const MALFORMED_JSON: &str = "malformed_json";
    pub const PAYLOAD_TOO_LARGE: &str = "payload_too_large";
    pub const UNSUPPORTED_MEDIA_TYPE: &str = "unsupported_media_type";
    pub const UNAUTHORIZED: &str = "unauthorized";
    pub const INVALID_CREDENTIALS: &str = "invalid_credentials";
    pub const FORBIDDEN: &str = "forbidden";
    pub const ROUTE_NOT_FOUND: &str = "route_not_found";
    pub const METHOD_NOT_ALLOWED: &str = "method_not_allowed";
    pub const EMAIL_TAKEN: &str = "email_taken";
    pub const USER_NOT_FOUND: &str = "user_not_found";
    pub const SOLUTION_NOT_FOUND: &str = "solution_not_found";
    pub const TOKEN_NOT_FOUND: &str = "token_not_found";
    pub const EXPIRED: &str = "expired";
    pub const REVOKED: &str = "revoked";
    pub const INVALID_SIGNATURE: &str = "invalid_signature";
    pub const MALFORMED: &str = "malformed";
    pub const WRONG_AUDIENCE: &str = "wrong_audience";
    /// A solution token where a session is required, or a session where a solution token is.
    pub const WRONG_TOKEN_KIND: &str = "wrong_token_kind";
    /// A solution token without the scope the operation needs.
    pub const INSUFFICIENT_SCOPE: &str = "insufficient_scope";
    /// A solution token presented for another solution's data.
    pub const SOLUTION_MISMATCH: &str = "solution_mismatch";
    /// The token's solution is suspended or retired.
    pub const SOLUTION_UNAVAILABLE: &str = "solution_unavailable";
    /// A per-client throttle (login failures, per-IP limits) was hit; retry after `Retry-After` seconds.
    pub const TOO_MANY_REQUESTS: &str = "too_many_requests";
    /// The quota of the tier is used up (track-usage: the event was not counted).
    pub const QUOTA_EXCEEDED: &str = "quota_exceeded";
    /// The customer's spending cap on overage is reached for this billing period (track-usage: not counted).
    pub const SPENDING_CAP_REACHED: &str = "spending_cap_reached";
    /// A spending cap asked of a subscription whose price charges no overage.
    pub const NOT_USAGE_PRICED: &str = "not_usage_priced";
    pub const INVALID_REFRESH_TOKEN: &str = "invalid_refresh_token";
    pub const REFRESH_TOKEN_REUSED: &str = "refresh_token_reused";
    pub const SERVICE_UNAVAILABLE: &str = "service_unavailable";
    pub const PAYMENT_PROVIDER_ERROR: &str = "payment_provider_error";
    pub const PAYMENT_PROVIDER_UNAVAILABLE: &str = "payment_provider_unavailable";
    pub const PAYMENT_FAILED: &str = "payment_failed";
    pub const SUBSCRIPTION_NOT_FOUND: &str = "subscription_not_found";
    pub const SUBSCRIPTION_EXISTS: &str = "subscription_exists";
    /// Two checkouts for one solution were created at the same instant; the retry finds the survivor.
    pub const CHECKOUT_IN_PROGRESS: &str = "checkout_in_progress";
    pub const SUBSCRIPTION_NOT_ACTIVE: &str = "subscription_not_active";
    pub const PRICE_NOT_FOUND: &str = "price_not_found";
    pub const PAYMENT_NOT_FOUND: &str = "payment_not_found";
    pub const REFUND_EXCEEDS_PAYMENT: &str = "refund_exceeds_payment";
    pub const IDEMPOTENCY_KEY_REUSED: &str = "idempotency_key_reused";
    pub const EVENT_IN_PROGRESS: &str = "event_in_progress";
    pub const INVOICE_NOT_FOUND: &str = "invoice_not_found";
    pub const INVOICE_NOT_OPEN: &str = "invoice_not_open";
    /// A PhonePe subscription's renewal invoice is unpaid: pay it before changing the tier.
    pub const RENEWAL_UNPAID: &str = "renewal_unpaid";
    pub const PROVIDER_NOT_CONFIGURED: &str = "provider_not_configured";
    pub const AMOUNT_MISMATCH: &str = "amount_mismatch";
    pub const NOT_A_PARTNER: &str = "not_a_partner";
    pub const PARTNER_NOT_FOUND: &str = "partner_not_found";
    pub const PARTNER_EXISTS: &str = "partner_exists";
    pub const PARTNER_NOT_PENDING: &str = "partner_not_pending";
    pub const INVALID_API_KEY: &str = "invalid_api_key";
    pub const API_KEY_NOT_FOUND: &str = "api_key_not_found";
    pub const API_KEY_NOT_ALLOWED: &str = "api_key_not_allowed";
    pub const INVALID_TRANSITION: &str = "invalid_transition";
    pub const NO_PENDING_CHANGE: &str = "no_pending_change";
    pub const CONCURRENT_UPDATE: &str = "concurrent_update";
    pub const ASSETS_NOT_CONFIGURED: &str = "assets_not_configured";
    /// A review by someone who neither paid for the solution nor used it as its partner attests (3 days).
    pub const REVIEW_NOT_ALLOWED: &str = "review_not_allowed";
    /// A review of a solution by an account of the partner that owns it.
    pub const REVIEW_OWN_SOLUTION: &str = "review_own_solution";
    pub const NOTIFICATION_NOT_FOUND: &str = "notification_not_found";
    /// An admin's retry of a notification that is not dead-lettered.
    pub const NOTIFICATION_NOT_DEAD: &str = "notification_not_dead";
    /// Money, reputation and mail need a verified email address (`POST /api/auth/verify-email`).
    pub const EMAIL_NOT_VERIFIED: &str = "email_not_verified";
    /// A verification link that is not one of ours (or was never issued).
    pub const VERIFICATION_INVALID: &str = "verification_invalid";
    /// A verification link older than 24 hours.
    pub const VERIFICATION_EXPIRED: &str = "verification_expired";
    /// A verification link that was used already (each is single use).
    pub const VERIFICATION_USED: &str = "verification_used";
    /// A resend for an address that is verified already.
    pub const EMAIL_ALREADY_VERIFIED: &str = "email_already_verified";
    /// No organization with this id that the caller belongs to (another organization's id reads the same).
    pub const ORG_NOT_FOUND: &str = "org_not_found";
    /// The caller's role in the organization does not allow this (`required_roles` names those that do).
    pub const ORG_ROLE_REQUIRED: &str = "org_role_required";
    /// The change would leave the organization without an owner: transfer ownership first.
    pub const LAST_OWNER: &str = "last_owner";
    /// A personal organization has one member, its user: it takes no invitations and no other members.
    pub const PERSONAL_ORG: &str = "personal_org";
    pub const MEMBER_NOT_FOUND: &str = "member_not_found";
    pub const ALREADY_MEMBER: &str = "already_member";
    pub const INVITATION_NOT_FOUND: &str = "invitation_not_found";
    /// The invitation was accepted, revoked or has expired.
    pub const INVITATION_CLOSED: &str = "invitation_closed";
    /// The invitation is for another address than the caller's verified one.
    pub const INVITATION_EMAIL_MISMATCH: &str = "invitation_email_mismatch";
    /// The current password given to confirm an account's erasure is wrong (the session stays valid).
    pub const REAUTHENTICATION_FAILED: &str = "reauthentication_failed";
    /// Erasure refused: the user is the only owner of an organization with other members (transfer ownership
    /// first).
    pub const ORG_HAS_OTHER_MEMBERS: &str = "org_has_other_members";
    /// Erasure refused: the user's approved partner has solutions that are not retired.
    pub const PARTNER_SOLUTIONS_LIVE: &str = "partner_solutions_live";
    /// Erasure refused: the user's partner has a payout not yet made.
    pub const PARTNER_PAYOUT_PENDING: &str = "partner_payout_pending";
    /// Erasure refused: a subscription would renew (cancel it first; it ends at its period end, no refund).
    pub const SUBSCRIPTION_ACTIVE: &str = "subscription_active";
    /// Erasure refused: money in flight (a checkout or payment request open, a refund pending).
    pub const PAYMENT_PENDING: &str = "payment_pending";
    pub const INTERNAL: &str = "internal";
}

/// An API error: a boxed [`Problem`] so that `Result<_, ApiError>` stays small on every path.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError(Box<Problem>);

impl std::ops::Deref for ApiError {
    type Target = Problem;
    fn deref(&self) -> &Problem {
        &self.0
    }
}

impl std::ops::DerefMut for ApiError {
    fn deref_mut(&mut self) -> &mut Problem {
        &mut self.0
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub status: u16,
    pub code: Cow<'static, str>,
    pub title: Cow<'static, str>,
    pub detail: String,
    pub errors: Vec<FieldError>,
    /// Extra top-level members of the problem document (e.g. `valid: false` for token validation).
    pub extensions: serde_json::Map<String, serde_json::Value>,
    /// Seconds for a `Retry-After` header.
    pub retry_after: Option<u64>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.detail)
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    pub fn new(status: u16, code: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        Self(Box::new(Problem {
            status,
            code: Cow::Borrowed(code),
            title: Cow::Borrowed(title),
            detail: detail.into(),
            errors: Vec::new(),
            extensions: serde_json::Map::new(),
            retry_after: None,
        }))
    }

    /// 400 with every offending field named.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [one] => format!("{}: {}", one.field, one.message),
            many => format!("{} fields are invalid", many.len()),
        };
        let mut e = Self::new(400, codes::VALIDATION_FAILED, "Validation failed", detail);
        e.errors = errors;
        e
    }

    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError::new(field, message)])
    }

    pub fn malformed_json(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        let message = message.into();
        let mut e = Self::new(400, codes::MALFORMED_JSON, "Malformed JSON", format!("{field}: {message}"));
        e.errors = vec![FieldError::new(field, message)];
        e
    }

    pub fn payload_too_large(limit: usize) -> Self {
        let mut e = Self::new(
            413,
            codes::PAYLOAD_TOO_LARGE,
            "Payload too large",
            format!("the request body exceeds {limit} bytes"),
        );
        e.errors = vec![FieldError::new("body", format!("at most {limit} bytes"))];
        e
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(401, codes::UNAUTHORIZED, "Unauthorized", detail)
    }

    pub fn unauthorized_code(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(401, code, "Unauthorized", detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(403, codes::FORBIDDEN, "Forbidden", detail)
    }

    pub fn not_found(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(404, code, "Not found", detail)
    }

    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(409, code, "Conflict", detail)
    }

    /// A payment provider failed or refused us (502; nothing was charged). `retry_after` 0: no header.
    pub fn provider_error(detail: &str, retry_after: u64) -> Self {
        let mut e = Self::new(502, codes::PAYMENT_PROVIDER_ERROR, "Payment provider error", detail.to_owned());
        e.retry_after = (retry_after > 0).then_some(retry_after);
        e
    }

    /// A payment provider did not answer in time (503, retry shortly).
    pub fn provider_unavailable() -> Self {
        let mut e = Self::new(
            503,
            codes::PAYMENT_PROVIDER_UNAVAILABLE,
            "Payment provider unavailable",
            "the payment provider did not answer in time; retry later",
        );
        e.retry_after = Some(5);
        e
    }

    /// 429: a per-client throttle; retry after `retry_after` seconds (at least 1).
    pub fn too_many_requests(detail: impl Into<String>, retry_after: u64) -> Self {
        let mut e = Self::new(429, codes::TOO_MANY_REQUESTS, "Too many requests", detail);
        e.retry_after = Some(retry_after.max(1));
        e
    }

    pub fn route_not_found(method: &str, path: &str) -> Self {
        Self::new(404, codes::ROUTE_NOT_FOUND, "Not found", format!("no route for {method} {path}"))
    }

    pub fn method_not_allowed(method: &str, path: &str) -> Self {
        Self::new(405, codes::METHOD_NOT_ALLOWED, "Method not allowed", format!("{method} is not allowed on {path}"))
    }

    /// A dependency (DynamoDB, Secrets Manager, a provider) is unavailable or throttling: retry later.
    pub fn unavailable(retry_after: u64) -> Self {
        let mut e = Self::new(
            503,
            codes::SERVICE_UNAVAILABLE,
            "Service unavailable",
            "a dependency is temporarily unavailable; retry later",
        );
        e.retry_after = Some(retry_after);
        e
    }

    /// The request did not complete within its time budget (a dependency was too slow): retry shortly.
    pub fn timed_out() -> Self {
        let mut e = Self::new(
            503,
            codes::SERVICE_UNAVAILABLE,
            "Service unavailable",
            "the request did not complete in time; retry later",
        );
        e.retry_after = Some(1);
        e
    }

    /// Our own fault. The cause is logged here and never sent to the caller.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(500, codes::INTERNAL, "Internal error", "an internal error occurred")
    }

    pub fn with_extension(mut self, key: &str, value: serde_json::Value) -> Self {
        self.extensions.insert(key.to_owned(), value);
        self
    }

    /// The problem document.
    pub fn to_problem(&self) -> serde_json::Value {
        let mut doc = serde_json::Map::new();
        doc.insert("type".into(), format!("https://docs.monetization.example/problems/{}", self.code).into());
        doc.insert("title".into(), self.title.as_ref().into());
        doc.insert("status".into(), self.status.into());
        doc.insert("code".into(), self.code.as_ref().into());
        doc.insert("detail".into(), self.detail.clone().into());
        if !self.errors.is_empty() {
            doc.insert("errors".into(), serde_json::to_value(&self.errors).unwrap_or_default());
        }
        for (k, v) in &self.extensions {
            doc.insert(k.clone(), v.clone());
        }
        serde_json::Value::Object(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_document_has_the_stable_members() {
        let doc = ApiError::field("email", "must be an email address").to_problem();
        assert_eq!(doc["status"], 400);
        assert_eq!(doc["code"], "validation_failed");
        assert_eq!(doc["errors"][0]["field"], "email");
        assert!(doc["type"].as_str().is_some_and(|t| t.ends_with("/validation_failed")));
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let doc = ApiError::internal("secret table name leaked").to_problem();
        assert_eq!(doc["status"], 500);
        assert!(!doc.to_string().contains("secret"));
    }

    #[test]
    fn extensions_are_top_level() {
        let doc = ApiError::unauthorized_code(codes::EXPIRED, "token expired")
            .with_extension("valid", false.into())
            .to_problem();
        assert_eq!(doc["valid"], false);
        assert_eq!(doc["code"], "expired");
    }
}
