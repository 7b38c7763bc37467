//! Per-client throttles: the numbers and the pure arithmetic (windows, back-off). The counters themselves are
//! in `store::throttle`; the use cases (login, register, refresh, anonymous tracking) call them.
//!
//! | limit            | per        | allowed                     | why                                              |
//! |------------------|------------|-----------------------------|--------------------------------------------------|
//! | login failures   | account    | 5, then a lock of 30 s doubling per further failure, at most 1 h | password guessing on one account, from any number of IPs |
//! | register         | source IP  | 20 an hour                  | mass account creation                            |
//! | login            | source IP  | 30 a minute                 | credential stuffing across many accounts        |
//! | refresh-token    | source IP  | 120 a minute                | refresh-token guessing; a client refreshes every few minutes |
//! | verify-email     | source IP  | 30 a minute                 | floods of link checks (a link is 256 random bits: guessing is hopeless anyway) |
//! | anonymous track  | source IP  | 600 a minute                | a flood of anonymous usage (authenticated tracking is never limited per IP) |

use crate::platform::error::ApiError;
use crate::store::Store;
use std::net::IpAddr;

/// A fixed-window limit per client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Names the counter (stored data: never rename).
    pub scope: &'static str,
    pub max: u32,
    pub window_seconds: i64,
}

pub const REGISTER_PER_IP: Limit = Limit { scope: "register", max: 20, window_seconds: 3_600 };
pub const LOGIN_PER_IP: Limit = Limit { scope: "login", max: 30, window_seconds: 60 };
pub const REFRESH_PER_IP: Limit = Limit { scope: "refresh", max: 120, window_seconds: 60 };
pub const VERIFY_EMAIL_PER_IP: Limit = Limit { scope: "verify_email", max: 30, window_seconds: 60 };
/// Invitations an organization sends a day (each is a mail to an address nobody has proven yet).
pub const INVITATIONS_PER_ORG: Limit = Limit { scope: "org_invitations", max: 50, window_seconds: 86_400 };
pub const ANONYMOUS_TRACK_PER_IP: Limit = Limit { scope: "anon_track", max: 600, window_seconds: 60 };

/// Failed logins of one account that are answered normally; the next ones lock the account's logins.
pub const LOGIN_FREE_FAILURES: u32 = 5;
/// The first lock, doubled by each further failure, up to [`LOGIN_MAX_LOCK_SECONDS`].
pub const LOGIN_FIRST_LOCK_SECONDS: i64 = 30;
pub const LOGIN_MAX_LOCK_SECONDS: i64 = 3_600;
/// Failures are forgotten a day after the last one (TTL), or at the next successful login.
pub const LOGIN_FAILURE_MEMORY_SECONDS: i64 = 86_400;

impl Limit {
    /// The start of the window that holds `now` (epoch seconds).
    pub fn window_start(&self, now: i64) -> i64 {
        now - now.rem_euclid(self.window_seconds)
    }

    /// Seconds until the window that holds `now` ends (at least 1).
    pub fn retry_after(&self, now: i64) -> u64 {
        u64::try_from(self.window_start(now) + self.window_seconds - now).unwrap_or(1).max(1)
    }

    /// When the window's counter may be deleted (TTL): an hour after the window ends, so clock skew between
    /// instances never revives a deleted count.
    pub fn expires_at(&self, now: i64) -> i64 {
        self.window_start(now) + self.window_seconds + 3_600
    }

    /// The 429 answer of this limit.
    pub fn refused(&self, now: i64) -> ApiError {
        ApiError::too_many_requests(
            format!("too many requests from this address; at most {} per {} s", self.max, self.window_seconds),
            self.retry_after(now),
        )
    }
}

/// Count one request of the client at `source_ip` against `limit` (one conditional write): 429
/// `too_many_requests` with `Retry-After` once the window's allowance is used. Requests without a source
/// address (direct invocations, never API Gateway's) are not limited.
pub async fn admit(store: &Store, limit: Limit, source_ip: Option<&str>, now: i64) -> Result<(), ApiError> {
    let Some(client) = source_ip.and_then(client_of) else {
        return Ok(());
    };
    if store.hit_rate_window(limit.scope, &client, limit.window_start(now), limit.max, limit.expires_at(now)).await? {
        Ok(())
    } else {
        tracing::info!(scope = limit.scope, "per-client limit reached");
        Err(limit.refused(now))
    }
}

/// Count one action of `subject` (an id of ours, not an address: an organization, say) against `limit`: 429
/// `too_many_requests` with `Retry-After` once the window's allowance is used.
pub async fn admit_subject(store: &Store, limit: Limit, subject: &str, now: i64) -> Result<(), ApiError> {
    if store.hit_rate_window(limit.scope, subject, limit.window_start(now), limit.max, limit.expires_at(now)).await? {
        return Ok(());
    }
    tracing::info!(scope = limit.scope, subject, "per-subject limit reached");
    Err(ApiError::too_many_requests(
        format!("at most {} of these per {} s", limit.max, limit.window_seconds),
        limit.retry_after(now),
    ))
}

/// How long logins stay locked after the `failures`-th consecutive failure (0: not locked).
pub fn login_lock_seconds(failures: u32) -> i64 {
    if failures < LOGIN_FREE_FAILURES {
        return 0;
    }
    let doublings = (failures - LOGIN_FREE_FAILURES).min(20);
    LOGIN_FIRST_LOCK_SECONDS.saturating_mul(1_i64 << doublings).min(LOGIN_MAX_LOCK_SECONDS)
}

/// The 429 answer of a locked login (the same whether or not the account exists).
pub fn login_locked(retry_after: i64) -> ApiError {
    ApiError::too_many_requests(
        "too many failed sign-ins for this account; try again later",
        u64::try_from(retry_after).unwrap_or(1),
    )
}

/// One password attempt on an account counted before the password is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordAttempt {
    /// The user behind the address, if any.
    pub user_id: Option<String>,
    /// Consecutive failures, this attempt counted as one.
    pub failures: u32,
    /// The lock this attempt brings if it fails (seconds; 0: none).
    pub lock_seconds: i64,
    /// The throttle's key (the SHA-256 of the normalised address): cleared by a success.
    pub email_hash: String,
}

/// Count a password attempt on the account of `email` (normalised) as a failure before checking it,
/// atomically: concurrent guesses are serialised, so each one counts and none slips past a lock. The same
/// whether or not the account exists (no enumeration by throttle); 429 while the account is locked. Sign-in
/// and every re-authentication (an account's erasure) share this counter.
pub async fn reserve_password_attempt(store: &Store, email: &str, now: i64) -> Result<PasswordAttempt, ApiError> {
    let email_hash = crate::platform::crypto::sha256_hex(email.as_bytes());
    let (user_id, seen) = store.login_lookup(email, &email_hash).await?;
    let live = seen.as_ref().filter(|t| t.expires_at > now);
    if let Some(t) = live
        && t.locked_until > now
    {
        return Err(login_locked(t.locked_until - now));
    }
    let failures = live.map_or(0, |t| t.failures).saturating_add(1);
    let lock_seconds = login_lock_seconds(failures);
    let next = crate::store::throttle::LoginThrottleItem::new(
        &email_hash,
        failures,
        if lock_seconds > 0 { now + lock_seconds } else { 0 },
        now + LOGIN_FAILURE_MEMORY_SECONDS,
    );
    if !store.reserve_login_attempt(seen.as_ref(), &next).await? {
        return Err(login_locked(1));
    }
    Ok(PasswordAttempt { user_id, failures, lock_seconds, email_hash })
}

/// The client a per-IP counter is kept for: the IPv4 address, or the /64 network of an IPv6 address (one
/// host usually holds a whole /64). `None` when the address is not an IP address.
pub fn client_of(source_ip: &str) -> Option<String> {
    match source_ip.trim().parse::<IpAddr>().ok()? {
        IpAddr::V4(v4) => Some(v4.to_string()),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => Some(v4.to_string()),
            None => {
                let s = v6.segments();
                Some(format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3]))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_aligned_and_retry_after_reaches_their_end() {
        let l = LOGIN_PER_IP;
        assert_eq!(l.window_start(120), 120);
        assert_eq!(l.window_start(179), 120);
        assert_eq!(l.retry_after(120), 60);
        assert_eq!(l.retry_after(179), 1);
        assert_eq!(REGISTER_PER_IP.window_start(7_199), 3_600);
        assert_eq!(REGISTER_PER_IP.expires_at(3_700), 7_200 + 3_600);
    }

    #[test]
    fn login_locks_back_off_exponentially_up_to_an_hour() {
        let locks: Vec<i64> = (0..=12).map(login_lock_seconds).collect();
        assert_eq!(&locks[..5], &[0, 0, 0, 0, 0]);
        assert_eq!(&locks[5..10], &[30, 60, 120, 240, 480]);
        assert_eq!(locks[11], 1_920);
        assert_eq!(locks[12], 3_600);
        assert_eq!(login_lock_seconds(u32::MAX), 3_600);
    }

    #[test]
    fn clients_are_addresses_or_ipv6_networks() {
        assert_eq!(client_of("203.0.113.9").as_deref(), Some("203.0.113.9"));
        assert_eq!(client_of("2001:db8:1:2:aaaa::1").as_deref(), Some("2001:db8:1:2::/64"));
        assert_eq!(client_of("2001:db8:1:2:bbbb::9"), client_of("2001:db8:1:2:aaaa::1"));
        assert_eq!(client_of("::ffff:198.51.100.7").as_deref(), Some("198.51.100.7"));
        assert_eq!(client_of("not an ip"), None);
        assert_eq!(client_of(""), None);
    }
}
