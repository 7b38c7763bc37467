//! Forged, tampered and misused tokens are all refused with the right code.

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use integration_tests::harness::{ISSUER, TestEnv, unique_email};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use shared::identity::jwt::{Claims, KeySet};
use shared::model::SolutionStatus;

struct Fixture {
    env: TestEnv,
    token: String,
    claims: Claims,
    kid: String,
    other_solution: String,
    access_token: String,
}

async fn fixture() -> Fixture {
    let env = TestEnv::new().await;
    let solution = env.solution(SolutionStatus::Published).await;
    let other = env.solution(SolutionStatus::Published).await;
    let session = env.register(&unique_email("attack")).await;
    let generated = env.solution_token(&session.access_token, &solution.solution_id).await;
    let token = generated["token"].as_str().expect("token").to_owned();
    let claims: Claims = jsonwebtoken::dangerous::insecure_decode(&token).expect("decode").claims;
    let kid = env.keys().current_kid().to_owned();
    Fixture { env, token, claims, kid, other_solution: other.solution_id, access_token: session.access_token }
}

async fn validate(env: &TestEnv, body: Value) -> (u16, Value) {
    let r = env.call("POST", "/api/validate-token", Some(body), None).await;
    assert_eq!(r.content_type(), if r.status == 200 { "application/json" } else { "application/problem+json" });
    (r.status, r.body)
}

async fn expect_refused(env: &TestEnv, token: &str, code: &str) {
    let (status, body) = validate(env, json!({"token": token})).await;
    assert_eq!(status, 401, "{body:?}");
    assert_eq!(body["valid"], false);
    assert_eq!(body["code"], code, "{body:?}");
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_and_misused_tokens_are_refused() {
    let f = fixture().await;
    let env = &f.env;
    let payload = serde_json::to_value(&f.claims).expect("claims");

    // Sanity: the genuine token validates.
    assert_eq!(validate(env, json!({"token": f.token})).await.0, 200);

    // alg: none.
    let none = format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT", "kid": f.kid})), b64(&payload));
    expect_refused(env, &none, "invalid_signature").await;
    let none_upper = format!("{}.{}.", b64(&json!({"alg": "NONE", "kid": f.kid})), b64(&payload));
    assert_eq!(validate(env, json!({"token": none_upper})).await.0, 401);

    // HS256 signed with the public key (the classic key-confusion attack), raw bytes and JWK `x` text.
    let x = env.keys().jwks().keys[0].x.clone();
    let raw_public = URL_SAFE_NO_PAD.decode(&x).expect("x");
    for secret in [raw_public.as_slice(), x.as_bytes()] {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(f.kid.clone());
        let forged = jsonwebtoken::encode(&header, &f.claims, &EncodingKey::from_secret(secret)).expect("hs256");
        expect_refused(env, &forged, "invalid_signature").await;
    }

    // Signed by a key we don't know: under an unknown kid, and under our kid.
    let rogue = Ed25519KeyPair::generate().expect("keypair");
    let rogue_key = EncodingKey::from_ed_der(rogue.to_pkcs8().expect("pkcs8").as_ref());
    assert_ne!(URL_SAFE_NO_PAD.encode(rogue.public_key().as_ref()), x);
    for kid in ["unknown-kid", f.kid.as_str()] {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.to_owned());
        let forged = jsonwebtoken::encode(&header, &f.claims, &rogue_key).expect("sign");
        expect_refused(env, &forged, "invalid_signature").await;
    }
    let mut no_kid = Header::new(Algorithm::EdDSA);
    no_kid.kid = None;
    let forged = jsonwebtoken::encode(&no_kid, &f.claims, &rogue_key).expect("sign");
    expect_refused(env, &forged, "invalid_signature").await;

    // Tampered payload (upgrade the tier) keeping the genuine signature.
    let mut parts: Vec<String> = f.token.split('.').map(str::to_owned).collect();
    let mut tampered = payload.clone();
    tampered["tier"] = json!("enterprise");
    parts[1] = b64(&tampered);
    expect_refused(env, &parts.join("."), "invalid_signature").await;

    // Expired (well past the leeway), signed with the real key.
    let mut expired = f.claims.clone();
    expired.iat -= 3_600;
    expired.exp = chrono::Utc::now().timestamp() - 120;
    expect_refused(env, &env.keys().sign(&expired).expect("sign"), "expired").await;

    // Wrong audience: aud not the token's solution.
    let mut wrong_aud = f.claims.clone();
    wrong_aud.aud = f.other_solution.clone();
    expect_refused(env, &env.keys().sign(&wrong_aud).expect("sign"), "wrong_audience").await;

    // Wrong issuer, with the right key.
    let mut foreign = f.claims.clone();
    foreign.iss = "https://evil.test".into();
    assert_ne!(foreign.iss, ISSUER);
    expect_refused(env, &env.keys().sign(&foreign).expect("sign"), "invalid_signature").await;
    // Signed under another issuer's configuration with a different key entirely.
    let other_platform = KeySet::from_material(ISSUER, &"k".repeat(64), None).expect("keys");
    expect_refused(env, &other_platform.sign(&f.claims).expect("sign"), "invalid_signature").await;

    // A token for another solution presented for this one.
    let (status, body) = validate(env, json!({"token": f.token, "solution_id": f.other_solution})).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("wrong_audience")));

    // A session access token is not a solution token, and vice versa.
    expect_refused(env, &f.access_token, "wrong_token_kind").await;
    let misuse =
        env.call("POST", "/api/generate-token", Some(json!({"solution_id": f.claims.aud})), Some(&f.token)).await;
    assert_eq!(misuse.status, 401);
    assert_eq!(misuse.body["code"], "wrong_token_kind");

    // Garbage.
    for junk in ["", "abc", "a.b.c", "..", &"x".repeat(10_000)] {
        let (status, body) = validate(env, json!({"token": junk})).await;
        assert_eq!(status, 401, "{junk}");
        assert_eq!(body["code"], "malformed");
    }
}
