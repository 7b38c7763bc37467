//! validate-token latency, measured locally: the real handler against DynamoDB Local (one batched read per
//! call: revocation, tier and today's quota) next to a bare `BatchGetItem` of the same keys, plus the in-memory verification cost alone.
//! Run with `make bench` (it starts DynamoDB Local). Prints p50/p99 in microseconds.

use integration_tests::harness::{TestEnv, unique_email};
use integration_tests::stats::report;
use serde_json::json;
use shared::identity::jwt::Expect;
use shared::model::SolutionStatus;
use shared::model::TokenKind;
use std::time::Instant;

const WARMUP: usize = 300;
const RUNS: usize = 2_000;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let env = TestEnv::new().await;
    let solution = env.solution(SolutionStatus::Published).await;
    let session = env.register(&unique_email("bench")).await;
    let generated = env.solution_token(&session.access_token, &solution.solution_id).await;
    let token = generated["token"].as_str().expect("token").to_owned();
    let body = json!({ "token": token }).to_string();
    let claims: shared::identity::jwt::Claims =
        jsonwebtoken::dangerous::insecure_decode(&token).expect("claims").claims;
    // The same keys validate-token reads: family, entitlement, the solution's policy, today's counters.
    let mut keys = vec![
        shared::store::keys::family(&claims.fid),
        shared::store::keys::entitlement(&claims.sub, &solution.solution_id),
    ];
    keys.extend(shared::usage::quota_read_keys(&claims.sub, &solution.solution_id, chrono::Utc::now()));

    let request = || {
        lambda_http::http::Request::builder()
            .method("POST")
            .uri("https://api.test/api/validate-token")
            .header("content-type", "application/json")
            .body(lambda_http::Body::Text(body.clone()))
            .expect("request")
    };

    for _ in 0..WARMUP {
        let resp = auth::handle(&env.state, request()).await;
        assert_eq!(resp.status().as_u16(), 200);
        env.store.batch_get(&keys, true).await.expect("batch");
    }

    // Interleave the two so both see the same DynamoDB Local conditions.
    let mut handler = Vec::with_capacity(RUNS);
    let mut bare = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let t = Instant::now();
        let resp = auth::handle(&env.state, request()).await;
        handler.push(t.elapsed().as_micros());
        assert_eq!(resp.status().as_u16(), 200);
        let t = Instant::now();
        env.store.batch_get(&keys, true).await.expect("batch");
        bare.push(t.elapsed().as_micros());
    }

    let key_set = env.keys();
    let mut verify = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let t = Instant::now();
        let ok = key_set.verify(&token, Expect { kinds: &[TokenKind::Solution], audience: None, allow_expired: false });
        verify.push(t.elapsed().as_nanos() / 1_000);
        assert!(ok.is_ok());
    }

    println!("validate-token against DynamoDB Local ({RUNS} runs after {WARMUP} warm-up):");
    let (h, _) = report("handler (verify + BatchGetItem)", handler);
    let (b, _) = report("bare BatchGetItem (same keys)", bare);
    report("JWT verify only (in memory)", verify);
    println!("handler / bare at p50: {:.2}", h as f64 / b.max(1) as f64);
}
