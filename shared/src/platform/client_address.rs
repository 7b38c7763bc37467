//! The client's address, when the console's CloudFront distribution may stand between the client and API
//! Gateway (`/api/*` and `/.well-known/*` under `ConsoleUrl` go through it).
//!
//! Behind the distribution, API Gateway's `sourceIp` is the edge server's address, shared by every viewer of
//! that edge location. The viewer's own address comes in [`VIEWER_ADDRESS_HEADER`], which a viewer-request
//! function of the distribution sets from the address CloudFront saw (overwriting whatever the viewer sent).
//! Anyone can send that header straight to the execute-api URL, so it is believed only on a request that
//! carries the distribution's origin secret in [`ORIGIN_VERIFY_HEADER`] (an origin custom header the
//! distribution adds to every request it sends to the API; CloudFront overwrites a viewer's header of that
//! name), compared in constant time with the secret the function is configured with ([`ORIGIN_VERIFY_ENV`],
//! read once at cold start). Otherwise (no secret configured, as in the local stack; the secret missing or
//! wrong; the viewer address missing or not exactly one IP address) the address is `sourceIp`, as today.
//!
//! Neither header is ever logged; the secret never appears in an error or in `Debug` output.

use crate::platform::config::ConfigError;
use crate::platform::crypto::constant_time_eq;
use std::net::IpAddr;

/// The environment variable holding the origin secret (the template's dynamic reference to
/// `OriginVerifySecret`). Unset: no request is taken for one through the distribution.
pub const ORIGIN_VERIFY_ENV: &str = "ORIGIN_VERIFY_SECRET";
/// The origin custom header the distribution adds to its requests to the API (lowercase, as `http` names it).
pub const ORIGIN_VERIFY_HEADER: &str = "x-origin-verify";
/// The header the distribution's viewer-request function sets to the viewer's IP address.
pub const VIEWER_ADDRESS_HEADER: &str = "x-viewer-address";
/// The shortest secret accepted (the template generates 48 letters and digits).
pub const MIN_SECRET_LEN: usize = 32;

/// The origin secret a function compares requests with: what proves a request came through the distribution.
#[derive(Clone, Default)]
pub struct OriginVerify {
    secret: Option<Box<[u8]>>,
}

impl std::fmt::Debug for OriginVerify {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OriginVerify").field("configured", &self.secret.is_some()).finish()
    }
}

/// Where a request's client address came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAddress<'a> {
    /// The request came through the distribution: the viewer's address, as CloudFront saw it.
    Viewer(&'a str),
    /// Not provably through the distribution: API Gateway's `sourceIp`.
    Source(Option<&'a str>),
    /// Through the distribution, but without a usable viewer address (its viewer-request function missing or
    /// changed): `sourceIp`, which is then the edge server's.
    EdgeOnly(Option<&'a str>),
}

impl<'a> ClientAddress<'a> {
    /// The address the per-client limits count.
    pub fn ip(self) -> Option<&'a str> {
        match self {
            Self::Viewer(ip) => Some(ip),
            Self::Source(ip) | Self::EdgeOnly(ip) => ip,
        }
    }
}

impl OriginVerify {
    /// No secret: every request is counted by its `sourceIp` (the local stack, the tests' default).
    pub fn none() -> Self {
        Self::default()
    }

    /// A configured secret: at least [`MIN_SECRET_LEN`] visible ASCII characters (what a header value can
    /// carry unchanged). The error never holds the value.
    pub fn new(secret: &str) -> Result<Self, ConfigError> {
        if secret.len() < MIN_SECRET_LEN || !secret.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ConfigError {
                name: ORIGIN_VERIFY_ENV,
                reason: "must be at least 32 visible ASCII characters, without spaces",
            });
        }
        Ok(Self { secret: Some(secret.as_bytes().into()) })
    }

    /// From [`ORIGIN_VERIFY_ENV`], once per cold start (no call: the deployment resolves the secret into the
    /// function's configuration). Unset: [`Self::none`]; set, it must be a valid secret.
    pub fn from_env() -> Result<Self, ConfigError> {
        match std::env::var(ORIGIN_VERIFY_ENV) {
            Err(std::env::VarError::NotPresent) => Ok(Self::none()),
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(ConfigError { name: ORIGIN_VERIFY_ENV, reason: "not valid UTF-8" })
            }
            Ok(secret) => Self::new(&secret),
        }
    }

    pub fn is_configured(&self) -> bool {
        self.secret.is_some()
    }

    /// Whether `presented` (the request's [`ORIGIN_VERIFY_HEADER`]) is the configured secret, compared in
    /// constant time. Never, without a configured secret.
    pub fn verifies(&self, presented: Option<&[u8]>) -> bool {
        match (&self.secret, presented) {
            (Some(secret), Some(presented)) => constant_time_eq(secret, presented),
            _ => false,
        }
    }

    /// The client's address of a request, from what API Gateway saw (`source_ip`), the request's
    /// [`ORIGIN_VERIFY_HEADER`] and its [`VIEWER_ADDRESS_HEADER`]: the viewer's only when the secret verifies.
    pub fn client_address<'a>(
        &self,
        source_ip: Option<&'a str>,
        presented_secret: Option<&[u8]>,
        viewer_address: Option<&'a str>,
    ) -> ClientAddress<'a> {
        if !self.verifies(presented_secret) {
            return ClientAddress::Source(source_ip);
        }
        match viewer_address.and_then(viewer_ip) {
            Some(ip) => ClientAddress::Viewer(ip),
            None => ClientAddress::EdgeOnly(source_ip),
        }
    }
}

/// The viewer address header's value when it is exactly one IP address (v4 or v6, surrounding spaces
/// ignored): what the distribution's function writes (`event.viewer.ip`). Anything else (a port, a list, a
/// name, an IPv6 zone) is not used.
pub fn viewer_ip(value: &str) -> Option<&str> {
    let value = value.trim();
    value.parse::<IpAddr>().is_ok().then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "Zx8kQ2mV7pL4rT9wB3nH6yJ1cF5gD0sA";
    const EDGE: Option<&str> = Some("130.176.12.34");

    fn configured() -> OriginVerify {
        OriginVerify::new(SECRET).expect("secret")
    }

    #[test]
    fn through_the_distribution_the_viewer_is_the_client() {
        let origin = configured();
        let secret = Some(SECRET.as_bytes());
        assert_eq!(origin.client_address(EDGE, secret, Some("198.51.100.10")), ClientAddress::Viewer("198.51.100.10"));
        assert_eq!(origin.client_address(EDGE, secret, Some("2001:db8::1")), ClientAddress::Viewer("2001:db8::1"));
        assert_eq!(
            origin.client_address(EDGE, secret, Some(" 2001:db8:0:0:8a2e:370:7334:1 ")),
            ClientAddress::Viewer("2001:db8:0:0:8a2e:370:7334:1")
        );
        assert_eq!(origin.client_address(EDGE, secret, Some("::ffff:192.0.2.7")).ip(), Some("::ffff:192.0.2.7"));
        // The viewer is the client even when API Gateway saw no address at all.
        assert_eq!(origin.client_address(None, secret, Some("192.0.2.1")).ip(), Some("192.0.2.1"));
    }

    #[test]
    fn without_the_right_secret_the_viewer_header_is_ignored() {
        let origin = configured();
        let spoofed = Some("203.0.113.99");
        // Spoofed headers sent straight to execute-api: no secret, a wrong one, a prefix, a longer one, empty.
        assert_eq!(origin.client_address(EDGE, None, spoofed), ClientAddress::Source(EDGE));
        for wrong in [
            "Zx8kQ2mV7pL4rT9wB3nH6yJ1cF5gD0sB",
            &SECRET[..31],
            &format!("{SECRET}x"),
            "",
            &SECRET.to_lowercase(),
            &format!(" {SECRET}"),
        ] {
            assert_eq!(
                origin.client_address(EDGE, Some(wrong.as_bytes()), spoofed),
                ClientAddress::Source(EDGE),
                "{wrong:?}"
            );
        }
        // Not through the distribution and no source address: nothing to count by.
        assert_eq!(origin.client_address(None, None, spoofed).ip(), None);
    }

    #[test]
    fn without_a_configured_secret_every_request_is_counted_by_its_source() {
        let none = OriginVerify::none();
        assert!(!none.is_configured());
        assert!(!none.verifies(Some(SECRET.as_bytes())));
        assert!(!none.verifies(Some(b"")));
        assert!(!none.verifies(None));
        assert_eq!(
            none.client_address(EDGE, Some(SECRET.as_bytes()), Some("198.51.100.10")),
            ClientAddress::Source(EDGE)
        );
        assert_eq!(none.client_address(EDGE, Some(b""), Some("198.51.100.10")), ClientAddress::Source(EDGE));
    }

    #[test]
    fn an_unusable_viewer_address_falls_back_to_the_source_address() {
        let origin = configured();
        let secret = Some(SECRET.as_bytes());
        for garbage in [
            "",
            "   ",
            "not an address",
            "198.51.100.10:46532",
            "[2001:db8::1]:46532",
            "198.51.100.10, 203.0.113.5",
            "198.51.100.256",
            "fe80::1%eth0",
            "example.com",
            "0x7f.1",
            "198.51.100",
        ] {
            assert_eq!(
                origin.client_address(EDGE, secret, Some(garbage)),
                ClientAddress::EdgeOnly(EDGE),
                "{garbage:?}"
            );
        }
        assert_eq!(origin.client_address(EDGE, secret, None), ClientAddress::EdgeOnly(EDGE));
        assert_eq!(origin.client_address(EDGE, secret, None).ip(), EDGE);
    }

    #[test]
    fn secrets_are_checked_and_never_shown() {
        for weak in ["", "short", &"a".repeat(MIN_SECRET_LEN - 1), &format!("{} {}", "a".repeat(20), "b".repeat(20))] {
            let err = OriginVerify::new(weak).expect_err(weak);
            assert_eq!(err.name, ORIGIN_VERIFY_ENV);
            let message = err.to_string();
            assert!(weak.is_empty() || !message.contains(weak), "{message}");
        }
        assert!(OriginVerify::new(&format!("{}é", "a".repeat(MIN_SECRET_LEN))).is_err(), "not ASCII");
        assert!(OriginVerify::new(&format!("{}\n", "a".repeat(MIN_SECRET_LEN))).is_err(), "a control character");
        let origin = configured();
        assert!(origin.is_configured());
        let shown = format!("{origin:?}");
        assert!(!shown.contains(SECRET) && shown.contains("configured: true"), "{shown}");
    }

    #[test]
    fn the_secret_is_compared_in_constant_time() {
        // The comparison is `subtle`'s: equal lengths compare every byte whatever the first difference; the
        // result is the same as plain equality for every kind of near miss.
        let origin = configured();
        let mut near = SECRET.as_bytes().to_vec();
        for i in [0, SECRET.len() / 2, SECRET.len() - 1] {
            near[i] ^= 1;
            assert!(!origin.verifies(Some(&near)), "byte {i} differs");
            near[i] ^= 1;
        }
        assert!(origin.verifies(Some(&near)));
        assert!(constant_time_eq(SECRET.as_bytes(), SECRET.as_bytes()));
        assert!(!constant_time_eq(SECRET.as_bytes(), &SECRET.as_bytes()[1..]));
    }

    #[test]
    fn viewer_addresses_are_single_ip_addresses() {
        assert_eq!(viewer_ip("203.0.113.1"), Some("203.0.113.1"));
        assert_eq!(viewer_ip("2001:db8::8a2e:370:7334"), Some("2001:db8::8a2e:370:7334"));
        assert_eq!(viewer_ip("\t192.0.2.9 "), Some("192.0.2.9"));
        assert_eq!(viewer_ip("192.0.2.9:443"), None);
        assert_eq!(viewer_ip("2001:db8::1 2001:db8::2"), None);
    }
}
