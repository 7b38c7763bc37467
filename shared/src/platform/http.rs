//! HTTP plumbing for `lambda_http` handlers: routing by (method, path template), JSON bodies with a size cap
//! and errors that name the offending field, bearer and query extraction, and responses (JSON and
//! problem+json).

use crate::platform::budget;
use crate::platform::client_address::{ClientAddress, ORIGIN_VERIFY_HEADER, OriginVerify, VIEWER_ADDRESS_HEADER};
use crate::platform::error::ApiError;
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

pub use lambda_http::http::Method;

/// Default cap on request bodies.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// One row of a function's route table: the method, the path template (`/api/usage/{customer_id}`) and what
/// the function dispatches on for it (the crate's own `Route` enum). Each route string is written once, here.
pub type Route<R> = (&'static str, &'static str, R);

/// The (method, path template) pairs of a route table, in order: what `infra/template.yaml` and the API
/// description must declare for the function.
pub fn route_pairs<R>(routes: &[Route<R>]) -> Vec<(&'static str, &'static str)> {
    routes.iter().map(|(method, template, _)| (*method, *template)).collect()
}

/// Result of matching a request against a route table.
#[derive(Debug, PartialEq, Eq)]
pub enum RouteMatch {
    /// Index into the table and the path parameters in template order.
    Found(usize, Vec<(String, String)>),
    MethodNotAllowed,
    NotFound,
}

/// Match `path` against templates like `/api/usage/{customer_id}`.
pub fn match_route<R>(routes: &[Route<R>], method: &str, path: &str) -> RouteMatch {
    let path = if path.len() > 1 { path.trim_end_matches('/') } else { path };
    let mut path_matched = false;
    for (i, (m, template, _)) in routes.iter().enumerate() {
        if let Some(params) = match_template(template, path) {
            if m.eq_ignore_ascii_case(method) {
                return RouteMatch::Found(i, params);
            }
            path_matched = true;
        }
    }
    if path_matched { RouteMatch::MethodNotAllowed } else { RouteMatch::NotFound }
}

fn match_template(template: &str, path: &str) -> Option<Vec<(String, String)>> {
    let mut params = Vec::new();
    let mut t = template.split('/');
    let mut p = path.split('/');
    loop {
        match (t.next(), p.next()) {
            (None, None) => return Some(params),
            (Some(ts), Some(ps)) => {
                if let Some(name) = ts.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    if ps.is_empty() {
                        return None;
                    }
                    let value = percent_decode(ps)?;
                    params.push((name.to_owned(), value));
                } else if ts != ps {
                    return None;
                }
            }
            _ => return None,
        }
    }
}

fn percent_decode(segment: &str) -> Option<String> {
    let decoded: String = url::form_urlencoded::parse(format!("v={}", segment.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())?;
    Some(decoded)
}

/// The raw body bytes, refusing bodies over `limit`.
pub fn body_bytes(req: &Request, limit: usize) -> Result<&[u8], ApiError> {
    let bytes: &[u8] = match req.body() {
        Body::Empty => &[],
        Body::Text(s) => s.as_bytes(),
        Body::Binary(b) => b,
        _ => &[],
    };
    if bytes.len() > limit {
        return Err(ApiError::payload_too_large(limit));
    }
    Ok(bytes)
}

/// Parse a JSON body into an explicit DTO. Errors name the field: a missing member, a wrong type, an unknown
/// member or the body itself when it is not JSON.
pub fn json_body<T: DeserializeOwned>(req: &Request, limit: usize) -> Result<T, ApiError> {
    let bytes = body_bytes(req, limit)?;
    parse_json(bytes)
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // A binary body (API Gateway passes it base64-encoded; lambda_http decodes it into `Body::Binary`) that is
    // not UTF-8 can never be JSON: a 400 naming the body, whatever the content type claims.
    if std::str::from_utf8(bytes).is_err() {
        return Err(ApiError::malformed_json("body", "not UTF-8 text: a JSON body is required"));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::malformed_json("body", "a JSON body is required"));
    }
    // Every request body of this API is a JSON object (serde would otherwise accept `[]` for a struct).
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => {}
        Some(b'[' | b'"' | b'n' | b't' | b'f' | b'-' | b'0'..=b'9') => {
            if serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok() {
                return Err(ApiError::field("body", "must be a JSON object"));
            }
            return Err(ApiError::malformed_json("body", "not valid JSON"));
        }
        _ => return Err(ApiError::malformed_json("body", "not valid JSON")),
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = serde_path_to_error::deserialize::<_, T>(&mut de);
    let parsed = match parsed {
        Ok(v) => match de.end() {
            Ok(()) => return Ok(v),
            Err(e) => {
                return Err(ApiError::malformed_json("body", format!("not valid JSON: {e}")));
            }
        },
        // JSON does not tell 5 from 5.0 (nor does JSON Schema's `integer`, which the API description uses): an
        // integral number written with a fraction or an exponent is that integer. Only bodies that need it pay
        // for the second parse.
        Err(err) if err.inner().to_string().starts_with("invalid type: floating point") => {
            match serde_json::from_slice::<serde_json::Value>(bytes) {
                Ok(mut value) => {
                    integral_numbers(&mut value);
                    serde_path_to_error::deserialize::<_, T>(value)
                }
                Err(_) => Err(err),
            }
        }
        Err(err) => Err(err),
    };
    match parsed {
        Ok(v) => Ok(v),
        Err(err) => {
            let path = err.path().to_string();
            let inner = err.into_inner();
            use serde_json::error::Category;
            match inner.classify() {
                Category::Syntax | Category::Eof | Category::Io => {
                    Err(ApiError::malformed_json("body", format!("not valid JSON: {inner}")))
                }
                Category::Data => {
                    let message = inner.to_string();
                    let message = message.split(" at line ").next().unwrap_or(&message).to_owned();
                    let named = between_backticks(&message);
                    let field = if message.starts_with("missing field") {
                        join_path(&path, named.unwrap_or("body"))
                    } else if message.starts_with("unknown field") && path == "." {
                        named.unwrap_or("body").to_owned()
                    } else if path == "." {
                        "body".to_owned()
                    } else {
                        path
                    };
                    Err(ApiError::field(field, message))
                }
            }
        }
    }
}

/// Floats without a fractional part (within the integers an f64 holds exactly) become integers.
fn integral_numbers(value: &mut serde_json::Value) {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    match value {
        serde_json::Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64().filter(|f| f.trunc() == *f && f.abs() <= EXACT) {
                *value = serde_json::Value::from(f as i64);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(integral_numbers),
        serde_json::Value::Object(map) => map.values_mut().for_each(integral_numbers),
        _ => {}
    }
}

fn between_backticks(s: &str) -> Option<&str> {
    let start = s.find('`')? + 1;
    let len = s[start..].find('`')?;
    Some(&s[start..start + len])
}

fn join_path(parent: &str, field: &str) -> String {
    if parent == "." || parent.is_empty() { field.to_owned() } else { format!("{parent}.{field}") }
}

/// The bearer token of the `Authorization` header, if any.
pub fn bearer(req: &Request) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// The client's address, what the per-client limits count: the viewer's when the request provably came through
/// the console's CloudFront distribution (its origin secret verifies, see `crate::platform::client_address`),
/// otherwise API Gateway's `requestContext.http.sourceIp`. `None` outside API Gateway. Neither header is logged.
pub fn client_ip<'a>(req: &'a Request, origin: &OriginVerify) -> Option<&'a str> {
    let presented = only_header(req, ORIGIN_VERIFY_HEADER).map(HeaderValue::as_bytes);
    let viewer = only_header(req, VIEWER_ADDRESS_HEADER).and_then(|v| v.to_str().ok());
    let address = origin.client_address(source_ip(req), presented, viewer);
    if let ClientAddress::EdgeOnly(_) = address {
        tracing::warn!(
            "a request came through the distribution without a viewer address: counted by the edge's address \
             (is the API behaviours' viewer-request function attached?)"
        );
    }
    address.ip()
}

/// The caller's address as API Gateway saw it (`requestContext.http.sourceIp`); `None` outside API Gateway.
/// Behind the distribution it is the edge's: per-client limits use [`client_ip`].
fn source_ip(req: &Request) -> Option<&str> {
    use lambda_http::RequestExt;
    use lambda_http::request::RequestContext;
    match req.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => ctx.http.source_ip.as_deref(),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// A header's value when the request carries it exactly once.
fn only_header<'a>(req: &'a Request, name: &str) -> Option<&'a HeaderValue> {
    let mut values = req.headers().get_all(name).iter();
    let first = values.next()?;
    values.next().is_none().then_some(first)
}

/// The first value of a query parameter, percent-decoded.
pub fn query(req: &Request, name: &str) -> Option<String> {
    let q = req.uri().query()?;
    url::form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// A header's value as text.
pub fn header_str<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers().get(name)?.to_str().ok()
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn build(code: u16, content_type: &'static str, body: Body) -> Response<Body> {
    let mut resp = Response::new(body);
    *resp.status_mut() = status(code);
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    resp
}

/// A JSON response. Responses are `Cache-Control: no-store` by default (they carry tokens and personal data).
pub fn json<T: Serialize>(code: u16, body: &T) -> Response<Body> {
    match serde_json::to_string(body) {
        Ok(text) => build(code, "application/json", Body::Text(text)),
        Err(e) => problem(&ApiError::internal(e)),
    }
}

/// A JSON response that shared caches may keep for `max_age` seconds (public documents such as the JWKS).
pub fn json_cacheable<T: Serialize>(code: u16, body: &T, max_age: u32) -> Response<Body> {
    let mut resp = json(code, body);
    if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={max_age}")) {
        resp.headers_mut().insert(header::CACHE_CONTROL, v);
    }
    resp
}

pub fn no_content() -> Response<Body> {
    let mut resp = Response::new(Body::Empty);
    *resp.status_mut() = StatusCode::NO_CONTENT;
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// An `application/problem+json` response, with `Retry-After` and `WWW-Authenticate` where they apply.
pub fn problem(err: &ApiError) -> Response<Body> {
    let text = err.to_problem().to_string();
    let mut resp = build(err.status, "application/problem+json", Body::Text(text));
    if let Some(secs) = err.retry_after
        && let Ok(v) = HeaderValue::from_str(&secs.to_string())
    {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    if err.status == 401 {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    resp
}

/// Serve one request from a route table: match the route (404/405 otherwise), run `dispatch` with the route's
/// tag and path parameters, render errors as problem+json, and log one line (method, route, status, code,
/// elapsed) — never headers or bodies.
pub async fn serve<R, F, Fut>(routes: &[Route<R>], req: &Request, dispatch: F) -> Response<Body>
where
    R: Copy,
    F: FnOnce(R, Vec<(String, String)>) -> Fut,
    Fut: std::future::Future<Output = Result<Response<Body>, ApiError>>,
{
    let started = std::time::Instant::now();
    let method = req.method().as_str();
    let path = req.uri().path();
    let (matched, result) = match match_route(routes, method, path) {
        RouteMatch::Found(i, params) => (Some((routes[i].0, routes[i].1)), dispatch(routes[i].2, params).await),
        RouteMatch::MethodNotAllowed => (None, Err(ApiError::method_not_allowed(method, path))),
        RouteMatch::NotFound => (None, Err(ApiError::route_not_found(method, path))),
    };
    let route = matched.map_or("-", |(_, template)| template);
    let code = result.as_ref().err().map(|e| e.code.to_string());
    let resp = render(result);
    let (metric_method, metric_route) = matched.unwrap_or(("other", "unmatched"));
    crate::platform::metrics::request(metric_method, metric_route, resp.status().as_u16(), started.elapsed());
    tracing::info!(
        method,
        route,
        status = resp.status().as_u16(),
        code = code.as_deref().unwrap_or(""),
        elapsed_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        "request"
    );
    resp
}

/// An HTTP function's state, ready to serve requests (each function crate's `AppState`).
pub trait Handler: Send + Sync + 'static {
    /// The response to one request (errors already rendered as problem+json).
    fn handle(&self, req: Request) -> impl Future<Output = Response<Body>> + Send;
}

/// The whole `main` of an HTTP function: JSON logs; the cold start (`init` builds the SDK clients and reads the
/// secrets, once, before the first request); then each request runs within its invocation's time budget: past
/// it, a 503 problem+json with Retry-After, never Lambda's timeout (see `crate::platform::budget`).
pub async fn run<S, Init, Fut>(init: Init) -> Result<(), lambda_http::Error>
where
    S: Handler,
    Init: FnOnce() -> Fut,
    Fut: Future<Output = Result<S, lambda_http::Error>>,
{
    crate::platform::logging::init();
    crate::platform::metrics::init();
    let state = Arc::new(init().await?);
    let service = lambda_http::service_fn(move |req: Request| {
        let state = Arc::clone(&state);
        async move {
            let budget = of_request(&req);
            let request_id = request_id(&req);
            let resp = respond_within(budget, state.handle(req)).await;
            crate::platform::metrics::flush(request_id.as_deref());
            Ok::<_, Infallible>(resp)
        }
    });
    let runtime = lambda_http::lambda_runtime::Runtime::new(lambda_http::Adapter::from(service));
    crate::platform::telemetry::run(runtime, crate::platform::telemetry::Trigger::Http).await
}

/// The invocation's request id (the metrics' `request_id` property); `None` outside Lambda.
fn request_id(req: &Request) -> Option<String> {
    use lambda_http::RequestExt;
    req.lambda_context_ref().map(|c| c.request_id.clone())
}

/// A path parameter by name (empty when absent).
pub fn param<'a>(params: &'a [(String, String)], name: &str) -> &'a str {
    params.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
}

/// Render a handler result.
pub fn render(result: Result<Response<Body>, ApiError>) -> Response<Body> {
    result.unwrap_or_else(|e| problem(&e))
}

/// The budget of a Lambda HTTP invocation: `None` when the request carries no Lambda context (tests) or a
/// deadline that is no epoch time (local emulators such as `cargo lambda watch` send a small number and
/// never stop a function; the SDK and provider timeouts still bound every call).
pub fn of_request(req: &lambda_http::Request) -> Option<Duration> {
    use lambda_http::RequestExt;
    let context = req.lambda_context_ref()?;
    let now_ms = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
    budget::is_epoch_deadline(context.deadline, now_ms).then(|| budget::until_deadline(context.deadline, now_ms))
}

/// The handler's response, or `503 service_unavailable` (problem+json, `Retry-After`) when `budget` runs out
/// first. No budget: the handler's response, however long it takes.
pub async fn respond_within<F>(budget: Option<Duration>, handler: F) -> lambda_http::Response<lambda_http::Body>
where
    F: Future<Output = lambda_http::Response<lambda_http::Body>>,
{
    let Some(budget) = budget else {
        return handler.await;
    };
    match budget::within(budget, handler).await {
        Some(response) => response,
        None => {
            tracing::warn!(budget_ms = budget.as_millis() as u64, "request did not complete within its time budget");
            crate::platform::metrics::request("other", "timed_out", 503, budget);
            problem(&crate::ApiError::timed_out())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    const ROUTES: &[Route<u8>] = &[
        ("POST", "/api/auth/register", 0),
        ("GET", "/api/usage/{customer_id}", 1),
        ("GET", "/api/quotas/{customer_id}/{solution_id}", 2),
    ];

    #[test]
    fn routes_match_with_parameters_and_methods() {
        assert_eq!(match_route(ROUTES, "POST", "/api/auth/register"), RouteMatch::Found(0, vec![]));
        assert_eq!(match_route(ROUTES, "POST", "/api/auth/register/"), RouteMatch::Found(0, vec![]));
        assert_eq!(match_route(ROUTES, "GET", "/api/auth/register"), RouteMatch::MethodNotAllowed);
        assert_eq!(
            match_route(ROUTES, "GET", "/api/quotas/usr_1/sol%5F2"),
            RouteMatch::Found(2, vec![("customer_id".into(), "usr_1".into()), ("solution_id".into(), "sol_2".into())])
        );
        assert_eq!(match_route(ROUTES, "GET", "/api/usage/"), RouteMatch::NotFound);
        assert_eq!(match_route(ROUTES, "GET", "/api/usage/a/b"), RouteMatch::NotFound);
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Dto {
        email: String,
        ttl: Option<u32>,
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        n: u8,
    }

    fn field_of(body: &str) -> (String, String) {
        let err = parse_json::<Dto>(body.as_bytes()).expect_err("must fail");
        (err.code.to_string(), err.errors[0].field.clone())
    }

    #[test]
    fn json_errors_name_the_field() {
        assert_eq!(field_of("{"), ("malformed_json".into(), "body".into()));
        assert_eq!(field_of(""), ("malformed_json".into(), "body".into()));
        assert_eq!(field_of("{}"), ("validation_failed".into(), "email".into()));
        assert_eq!(field_of(r#"{"email": 5}"#), ("validation_failed".into(), "email".into()));
        assert_eq!(field_of(r#"{"email":"a","ttl":-1}"#), ("validation_failed".into(), "ttl".into()));
        assert_eq!(field_of(r#"{"email":"a","role":"admin"}"#), ("validation_failed".into(), "role".into()));
        assert_eq!(field_of(r#"{"email":"a","inner":{}}"#), ("validation_failed".into(), "inner.n".into()));
        assert_eq!(field_of(r#"[1]"#), ("validation_failed".into(), "body".into()));
        assert_eq!(field_of(r#"{"email":"a"} trailing"#), ("malformed_json".into(), "body".into()));
    }

    #[test]
    fn integral_floats_are_integers() {
        let dto: Dto = parse_json(br#"{"email":"a","ttl":60.0,"inner":{"n":2e0}}"#).expect("integral floats");
        assert_eq!((dto.ttl, dto.inner.map(|i| i.n)), (Some(60), Some(2)));
        assert_eq!(field_of(r#"{"email":"a","ttl":60.5}"#), ("validation_failed".into(), "ttl".into()));
        assert_eq!(field_of(r#"{"email":"a","ttl":-1.0}"#), ("validation_failed".into(), "ttl".into()));
        assert_eq!(field_of(r#"{"email":"a","ttl":1e300}"#), ("validation_failed".into(), "ttl".into()));
    }

    #[test]
    fn binary_bodies_are_read_and_non_utf8_ones_refused() {
        // What lambda_http makes of an API Gateway event with isBase64Encoded: true.
        let req = Request::new(Body::Binary(b"{\"email\": \"\xff\xfe\"}".to_vec()));
        let err = json_body::<Dto>(&req, DEFAULT_BODY_LIMIT).expect_err("non-UTF-8 body");
        assert_eq!((err.status, err.code.as_ref(), err.errors[0].field.as_str()), (400, "malformed_json", "body"));
        let req = Request::new(Body::Binary(vec![0x89, b'P', b'N', b'G', 0, 0xff]));
        assert_eq!(json_body::<Dto>(&req, DEFAULT_BODY_LIMIT).expect_err("binary").status, 400);
        let req = Request::new(Body::Binary(br#"{"email":"a@example.com"}"#.to_vec()));
        let dto: Dto = json_body(&req, DEFAULT_BODY_LIMIT).expect("UTF-8 JSON in a binary body");
        assert_eq!(dto.email, "a@example.com");
        let req = Request::new(Body::Binary(vec![b' '; DEFAULT_BODY_LIMIT + 1]));
        assert_eq!(body_bytes(&req, DEFAULT_BODY_LIMIT).expect_err("too large").status, 413);
    }

    /// A request as API Gateway delivers it from `source_ip`, with `headers`.
    fn from(source_ip: &str, headers: &[(&str, &str)]) -> Request {
        use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
        use lambda_http::request::RequestContext;
        let mut req = Request::default();
        for (name, value) in headers {
            let name = lambda_http::http::HeaderName::from_bytes(name.as_bytes()).expect("header name");
            req.headers_mut().append(name, HeaderValue::from_str(value).expect("header value"));
        }
        let mut context = ApiGatewayV2httpRequestContext::default();
        context.http.source_ip = Some(source_ip.to_owned());
        req.extensions_mut().insert(RequestContext::ApiGatewayV2(context));
        req
    }

    #[test]
    fn the_client_is_the_viewer_only_through_the_distribution() {
        const SECRET: &str = "k2J8sQ4vN7xB1mC6zP9rT3wY5hL0dF8g";
        let origin = OriginVerify::new(SECRET).expect("secret");
        let edge = "130.176.0.1";
        let through = from(edge, &[("X-Origin-Verify", SECRET), ("X-Viewer-Address", "2001:db8::7")]);
        assert_eq!(client_ip(&through, &origin), Some("2001:db8::7"));
        // The same request without a configured secret (the local stack): API Gateway's address.
        assert_eq!(client_ip(&through, &OriginVerify::none()), Some(edge));
        // Straight to execute-api with a forged viewer address (and CloudFront's own header): the caller's address.
        let forged = from(
            "203.0.113.50",
            &[("x-viewer-address", "198.51.100.1"), ("cloudfront-viewer-address", "198.51.100.1:443")],
        );
        assert_eq!(client_ip(&forged, &origin), Some("203.0.113.50"));
        let guessed = from("203.0.113.50", &[("x-origin-verify", "guess"), ("x-viewer-address", "198.51.100.1")]);
        assert_eq!(client_ip(&guessed, &origin), Some("203.0.113.50"));
        // A header given twice is not believed: the secret twice, or the viewer address twice.
        let twice = from("203.0.113.50", &[("x-origin-verify", "guess"), ("x-origin-verify", SECRET)]);
        assert_eq!(client_ip(&twice, &origin), Some("203.0.113.50"));
        let two_viewers = from(
            edge,
            &[("x-origin-verify", SECRET), ("x-viewer-address", "192.0.2.1"), ("x-viewer-address", "192.0.2.2")],
        );
        assert_eq!(client_ip(&two_viewers, &origin), Some(edge));
        // Through the distribution without a (usable) viewer address: the edge's, as before.
        assert_eq!(client_ip(&from(edge, &[("x-origin-verify", SECRET)]), &origin), Some(edge));
        // Outside API Gateway there is no source address: only a request through the distribution has one.
        let mut bare = Request::default();
        bare.headers_mut().insert("x-origin-verify", HeaderValue::from_static(SECRET));
        bare.headers_mut().insert("x-viewer-address", HeaderValue::from_static("192.0.2.1"));
        assert_eq!(client_ip(&bare, &origin), Some("192.0.2.1"));
        assert_eq!(client_ip(&Request::default(), &origin), None);
    }

    #[tokio::test]
    async fn a_lambda_request_gets_its_deadline_less_the_margin_and_a_503_past_it() {
        use lambda_http::RequestExt;
        let bare = lambda_http::Request::default();
        assert_eq!(of_request(&bare), None, "no Lambda context: no budget");
        let mut context = lambda_http::Context::default();
        context.deadline = u64::try_from(chrono::Utc::now().timestamp_millis()).expect("now") + 1_250;
        let req = lambda_http::Request::default().with_lambda_context(context);
        let budget = of_request(&req).expect("budget");
        assert!(budget <= Duration::from_millis(250) && budget >= Duration::from_millis(100), "{budget:?}");
        let slow = async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            lambda_http::Response::new(lambda_http::Body::Empty)
        };
        let resp = respond_within(Some(budget), slow).await;
        assert_eq!(resp.status(), 503);
        assert_eq!(resp.headers()["retry-after"], "1");
        assert_eq!(resp.headers()["content-type"], "application/problem+json");
    }
}
