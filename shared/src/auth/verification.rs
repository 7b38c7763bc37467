//! Verified email addresses. Registering is instant, but the address is only *claimed*: registration writes,
//! in its own transaction, a verification link (a random 256-bit token, stored as its SHA-256 only, single
//! use, valid 24 hours) and its mail into the notifications outbox (sent by the billing function's outbox
//! job: `<APP_BASE_URL>/verify-email?token=…`). `POST /api/auth/verify-email {token}` uses the link and
//! marks the user verified in one transaction. `POST /api/auth/resend-verification` sends a new link, at
//! most one a minute and five a day per account (the registration mail counts), counted by one conditional
//! `UpdateItem` on a TTL'd counter.
//!
//! Money, reputation and mail need a verified address ([`ensure_verified`]): paid subscriptions and
//! payments, partner applications and reviews answer 403 `email_not_verified`, and the outbox sends
//! nothing but the verification mail itself to an unverified address.

use crate::ApiError;
use crate::platform::clock::Clock;
use crate::platform::error::{FieldError, codes};
use crate::store::outbox::NotificationItem;
use crate::store::users::UserItem;
use crate::store::verification::{EmailVerificationItem, VerificationSendsItem};
use crate::store::{SendCount, Store, StoreError};
use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// How long a link is valid.
pub const LINK_TTL_SECONDS: i64 = 86_400;
/// At most one verification mail per this many seconds per account.
pub const RESEND_INTERVAL_SECONDS: i64 = 60;
/// At most this many verification mails per account per [`RESEND_WINDOW_SECONDS`].
pub const RESEND_MAX_PER_WINDOW: u32 = 5;
pub const RESEND_WINDOW_SECONDS: i64 = 86_400;
/// The outbox kind of the verification mail (the only kind sent to an unverified address).
pub const NOTIFICATION_KIND: &str = "email_verification";

const TOKEN_PREFIX: &str = "ev_";

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A new link's token (give it to the mail only; never store or log it) and the hash that is stored.
pub struct NewLink {
    pub token: String,
    pub hash: String,
}

pub fn new_link() -> NewLink {
    let token = format!("{TOKEN_PREFIX}{}", crate::platform::crypto::random_token::<32>());
    let hash = crate::platform::crypto::sha256_hex(token.as_bytes());
    NewLink { token, hash }
}

/// The hash to look up for a presented token, when it has the shape of one of ours.
pub fn parse(token: &str) -> Option<String> {
    let random = token.strip_prefix(TOKEN_PREFIX)?;
    let ok = random.len() == 43 && random.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then(|| crate::platform::crypto::sha256_hex(token.as_bytes()))
}

/// The outbox id of the mail that registration sends (one per account).
pub fn registration_notification_id(user_id: &str) -> String {
    format!("email-verification:{user_id}")
}

fn resend_notification_id(user_id: &str, now: i64) -> String {
    format!("email-verification:{user_id}:{now}")
}

/// A new link's record (its hash) and its mail (the token) for `user` at `now`.
fn link_and_mail(
    user: &UserItem,
    notification_id: &str,
    now: DateTime<Utc>,
) -> (EmailVerificationItem, NotificationItem) {
    let link = new_link();
    let at = rfc3339(now);
    let record = EmailVerificationItem::new(
        &link.hash,
        &user.user_id,
        &user.email,
        at.clone(),
        now.timestamp() + LINK_TTL_SECONDS,
    );
    let mail = NotificationItem::new(
        notification_id,
        NOTIFICATION_KIND,
        &user.user_id,
        None,
        serde_json::json!({"token": link.token, "email": user.email, "valid_hours": LINK_TTL_SECONDS / 3_600}),
        at,
    );
    (record, mail)
}

/// The writes that send a new account its first link (added to the registration's transaction): the link,
/// its mail and the resend throttle's first count.
pub fn registration_items(
    store: &Store,
    user: &UserItem,
    now: DateTime<Utc>,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let (record, mail) = link_and_mail(user, &registration_notification_id(&user.user_id), now);
    let first = VerificationSendsItem::first(&user.user_id, now.timestamp(), RESEND_WINDOW_SECONDS);
    store.verification_items(&record, &mail, Some(&first))
}

/// 403 `email_not_verified`.
pub fn not_verified() -> ApiError {
    ApiError::new(
        403,
        codes::EMAIL_NOT_VERIFIED,
        "Email not verified",
        "verify your email address first: follow the link we emailed you (POST /api/auth/resend-verification sends a new one)",
    )
}

/// The user's address must be verified (read from the user's record, never from a token): 403
/// `email_not_verified` otherwise; 401 when the account is gone.
pub fn ensure_verified(user: Option<&UserItem>) -> Result<(), ApiError> {
    match user {
        None => Err(ApiError::unauthorized("the account no longer exists")),
        Some(u) if u.email_verified => Ok(()),
        Some(_) => Err(not_verified()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    pub token: String,
}

/// The verified state of an address.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EmailStatus {
    pub user_id: String,
    pub email: String,
    pub email_verified: bool,
}

/// A new link is on its way.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ResendAccepted {
    pub email: String,
    /// Seconds the new link is valid.
    pub expires_in: i64,
    /// Seconds until another resend may be asked for.
    pub retry_after: i64,
}

fn invalid(detail: &str) -> ApiError {
    let mut e = ApiError::new(400, codes::VERIFICATION_INVALID, "Invalid verification link", detail.to_owned());
    e.errors = vec![FieldError::new("token", detail.to_owned())];
    e
}

fn expired() -> ApiError {
    ApiError::new(
        410,
        codes::VERIFICATION_EXPIRED,
        "Verification link expired",
        "this link is older than 24 hours; ask for a new one (POST /api/auth/resend-verification)",
    )
}

fn used() -> ApiError {
    ApiError::new(410, codes::VERIFICATION_USED, "Verification link used", "this link was used already")
}

/// The verification use cases (the `auth` function).
#[derive(Clone)]
pub struct EmailVerification {
    store: Store,
    clock: Arc<dyn Clock>,
}

impl EmailVerification {
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// `POST /api/auth/verify-email`: use a link (public: the token is the credential).
    pub async fn verify(&self, req: VerifyRequest) -> Result<EmailStatus, ApiError> {
        let hash = parse(req.token.trim()).ok_or_else(|| invalid("not a verification link of this platform"))?;
        let link = self
            .store
            .get_email_verification(&hash)
            .await?
            .ok_or_else(|| invalid("no such verification link (or it expired long ago)"))?;
        let now = self.clock.now();
        if link.used_at.is_some() {
            return Err(used());
        }
        if now.timestamp() >= link.valid_until {
            return Err(expired());
        }
        match self.store.use_email_verification(&link, &hash, now.timestamp(), &rfc3339(now)).await {
            Ok(()) => {}
            // Used by a concurrent request (or it ran out in between).
            Err(StoreError::Conditional { index: Some(0) }) => {
                let again = self.store.get_email_verification(&hash).await?;
                return Err(if again.is_some_and(|l| l.used_at.is_some()) { used() } else { expired() });
            }
            Err(StoreError::Conditional { index: Some(1) }) => {
                return Err(invalid("this link is for an address the account no longer has"));
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(user_id = %link.user_id, "email address verified");
        Ok(EmailStatus { user_id: link.user_id, email: link.email, email_verified: true })
    }

    /// `POST /api/auth/resend-verification`: a new link for the signed-in caller's (`user_id`) address
    /// (throttled).
    pub async fn resend(&self, user_id: &str) -> Result<ResendAccepted, ApiError> {
        let user = self
            .store
            .get_user(user_id)
            .await?
            .ok_or_else(|| ApiError::unauthorized("the account no longer exists"))?;
        if user.email_verified {
            return Err(ApiError::conflict(codes::EMAIL_ALREADY_VERIFIED, "this address is verified already"));
        }
        let now = self.clock.now();
        let t = now.timestamp();
        let count = self
            .store
            .count_verification_send(
                &user.user_id,
                t,
                RESEND_INTERVAL_SECONDS,
                RESEND_MAX_PER_WINDOW,
                RESEND_WINDOW_SECONDS,
            )
            .await?;
        if let SendCount::Throttled(counter) = count {
            let retry = counter.map_or(RESEND_INTERVAL_SECONDS, |c| {
                if c.sent >= RESEND_MAX_PER_WINDOW {
                    c.window_start + RESEND_WINDOW_SECONDS - t
                } else {
                    c.last_sent + RESEND_INTERVAL_SECONDS - t
                }
            });
            tracing::info!(user_id = %user.user_id, retry, "verification resend throttled");
            return Err(ApiError::too_many_requests(
                format!(
                    "at most one verification mail per {RESEND_INTERVAL_SECONDS} seconds and {RESEND_MAX_PER_WINDOW} per day"
                ),
                u64::try_from(retry).unwrap_or(1),
            ));
        }
        let (record, mail) = link_and_mail(&user, &resend_notification_id(&user.user_id, t), now);
        self.store.issue_verification(&record, &mail).await?;
        tracing::info!(user_id = %user.user_id, "verification mail queued");
        Ok(ResendAccepted { email: user.email, expires_in: LINK_TTL_SECONDS, retry_after: RESEND_INTERVAL_SECONDS })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_parse_to_their_hash_and_garbage_does_not() {
        let link = new_link();
        assert!(link.token.starts_with("ev_") && link.token.len() == 46);
        assert_eq!(parse(&link.token).as_deref(), Some(link.hash.as_str()));
        assert_ne!(new_link().hash, link.hash);
        for bad in ["", "ev_", "ev_short", "rt_abc", &format!("{}!", link.token), &link.token[1..]] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn only_verified_users_pass() {
        let mut user = UserItem::new("usr_1", "a@b.co", "A", crate::model::Role::User, String::new(), "t".into());
        assert_eq!(ensure_verified(None).map_err(|e| e.status), Err(401));
        assert_eq!(ensure_verified(Some(&user)).map_err(|e| e.code.to_string()), Err("email_not_verified".into()));
        user.email_verified = true;
        assert!(ensure_verified(Some(&user)).is_ok());
    }
}
