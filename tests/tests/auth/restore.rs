//! The restore drill, end to end: `infra/restore_drill.py copy` copies a table the functions wrote, its check
//! passes, and the functions then run against the copy as they ran against the source: the user signs in,
//! the session's refresh token and the solution token work, usage goes on from the copied count, an admin's
//! readiness check passes. The source is untouched by what is done on the copy.

use integration_tests::harness::{PASSWORD, TestEnv, api_request, unique_email};
use lambda_http::Body;
use serde_json::{Value, json};
use shared::model::SolutionStatus;
use std::path::PathBuf;
use std::process::Command;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `infra/restore_drill.py` with `args`, by the interpreter that has boto3 (`make test` installs it), against
/// the tests' DynamoDB Local (the standard endpoint variable the tests run with). Its exit code and output.
fn drill(args: &[&str]) -> (i32, String) {
    let python = repo_root().join(".local/moto-venv/bin/python");
    assert!(python.exists(), "{} is missing: run `infra/local/bootstrap.sh test` (make test does)", python.display());
    let out = Command::new(python)
        .arg(repo_root().join("infra/restore_drill.py"))
        .args(args)
        .output()
        .expect("run restore_drill.py");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

async fn track(env: &TestEnv, token: &str) -> u16 {
    env.send(api_request(
        "POST",
        "/api/track-usage",
        Body::from(json!({"action": "run"}).to_string()),
        Some(token),
        &[],
    ))
    .await
    .status
}

async fn used(env: &TestEnv, user: &str, solution: &str, access: &str) -> Value {
    let r = env.call("GET", &format!("/api/quotas/{user}/{solution}"), None, Some(access)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["used"].clone()
}

#[tokio::test]
async fn the_functions_run_against_a_table_the_drill_copied() {
    let source = TestEnv::new().await;
    let solution = source.solution(SolutionStatus::Published).await;
    let email = unique_email("restore");
    let user = source.register(&email).await;
    let token = source.solution_token(&user.access_token, &solution.solution_id).await["token"]
        .as_str()
        .expect("token")
        .to_owned();
    for _ in 0..3 {
        assert_eq!(track(&source, &token).await, 200);
    }
    let admin_email = unique_email("restore-admin");
    integration_tests::seed::user(&source.state.auth, &admin_email, PASSWORD, "Admin", shared::model::Role::Admin)
        .await
        .expect("seed admin");

    let target = format!("{}-drill", source.table);
    let (code, out) = drill(&[
        "copy",
        "--source",
        &source.table,
        "--target",
        &target,
        "--key",
        &format!("USER#{}|PROFILE", user.user_id),
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("CHECK PASSED"), "{out}");

    // The functions on the copy, with the same signing key (a secret, not restored with the table).
    let copy = TestEnv::on_table(&target, &source.key_material).await;
    let signed_in = copy.login(&email).await;
    assert_eq!(signed_in.user_id, user.user_id);
    let refreshed =
        copy.call("POST", "/api/refresh-token", Some(json!({"refresh_token": user.refresh_token})), None).await;
    assert_eq!(refreshed.status, 200, "the copied session's refresh token: {:?}", refreshed.body);
    let valid = copy.call("POST", "/api/validate-token", Some(json!({"token": token})), None).await;
    assert_eq!((valid.status, &valid.body["user_id"]), (200, &json!(user.user_id)), "{:?}", valid.body);
    assert_eq!(used(&copy, &user.user_id, &solution.solution_id, &signed_in.access_token).await, json!(3));
    assert_eq!(track(&copy, &token).await, 200);
    assert_eq!(used(&copy, &user.user_id, &solution.solution_id, &signed_in.access_token).await, json!(4));
    let admin = copy.login(&admin_email).await;
    let ready = copy.call("GET", "/api/admin/health", None, Some(&admin.access_token)).await;
    assert_eq!((ready.status, &ready.body["status"]), (200, &json!("ok")), "{:?}", ready.body);

    // What happened on the copy stayed there.
    let session = source.login(&email).await;
    assert_eq!(used(&source, &user.user_id, &solution.solution_id, &session.access_token).await, json!(3));
    // The check now sees the copy drift from the source (one more event), and says so.
    let (code, out) = drill(&["check", "--source", &source.table, "--target", &target]);
    assert_ne!(code, 0, "the check must notice the copy's new usage: {out}");
}
