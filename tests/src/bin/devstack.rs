//! `devstack setup`: prepares the local stack that `make dev` runs, from the same definitions as production:
//! the table from `infra/template.yaml`, the token-signing secret in Secrets Manager (moto), default tiers, an
//! admin, a demo partner and a demo solution with prices (Stripe price ids when known), the Stripe and
//! PhonePe secrets and the invoice bucket. Idempotent: state (generated key material and passwords) is kept in
//! `$DEV_STATE_DIR/dev-state/` so a restart keeps tokens valid and credentials stable.
//!
//! `devstack phonepe --port N`: the PhonePe stand-in (`integration_tests::fake_phonepe`) on 127.0.0.1:N; its
//! payment pages call back `$PHONEPE_CALLBACK_URL` with `$PHONEPE_WEBHOOK_USERNAME`/`_PASSWORD`.

use integration_tests::{fake_phonepe, seed, template};
use serde::{Deserialize, Serialize};
use shared::auth::{AuthService, TokenSettings};
use shared::identity::jwt::KeySet;
use shared::model::Role;
use shared::model::{BillingPeriod, Price};
use shared::model::{SolutionStatus, Tier, TierSpec};
use shared::platform::clock::SystemClock;
use shared::store::Store;
use shared::store::solutions::TierDefinitionItem;
use std::error::Error;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

type BoxError = Box<dyn Error + Send + Sync>;

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    signing_key_material: Option<String>,
    admin_email: Option<String>,
    admin_password: Option<String>,
    partner_email: Option<String>,
    partner_password: Option<String>,
    partner_id: Option<String>,
    solution_id: Option<String>,
    payout_key: Option<String>,
}

fn env(name: &'static str) -> Result<String, BoxError> {
    Ok(shared::platform::config::required(name)?)
}

fn state_path() -> PathBuf {
    let base = std::env::var("DEV_STATE_DIR").unwrap_or_else(|_| ".local".into());
    Path::new(&base).join("dev-state").join("state.json")
}

fn load_state(path: &Path) -> State {
    std::fs::read(path).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
}

fn save_state(path: &Path, state: &State) -> Result<(), BoxError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, serde_json::to_vec_pretty(state)?)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

fn generated_password() -> String {
    format!("dev-{}", shared::platform::crypto::random_token::<12>())
}

async fn wait_for_dynamodb(client: &aws_sdk_dynamodb::Client) -> Result<(), BoxError> {
    for _ in 0..60 {
        if client.list_tables().limit(1).send().await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err("DynamoDB Local did not answer within 30 s".into())
}

async fn ensure_secret(client: &aws_sdk_secretsmanager::Client, id: &str, value: &str) -> Result<(), BoxError> {
    match client.describe_secret().secret_id(id).send().await {
        Ok(_) => {
            client.put_secret_value().secret_id(id).secret_string(value).send().await?;
        }
        Err(_) => {
            client
                .create_secret()
                .name(id)
                .description("Token-signing key material (local dev)")
                .secret_string(value)
                .send()
                .await?;
        }
    }
    Ok(())
}

async fn setup() -> Result<(), BoxError> {
    let table = env("TABLE_NAME")?;
    let secret_id = env("SIGNING_KEY_SECRET_ID")?;
    let issuer = env("JWT_ISSUER")?;
    let path = state_path();
    let mut state = load_state(&path);

    // A tool, not a function: a freshly started DynamoDB Local (a cold JVM) may take seconds to answer at first.
    let patient = shared::platform::aws::Timeouts {
        connect: std::time::Duration::from_secs(5),
        attempt: std::time::Duration::from_secs(20),
        operation: std::time::Duration::from_secs(60),
    };
    let sdk = shared::platform::aws::load_with(patient).await;
    let dynamo = shared::platform::aws::dynamodb(&sdk);
    wait_for_dynamodb(&dynamo).await?;
    template::create_table(&dynamo, &table).await?;
    println!("table         {table} (from infra/template.yaml)");

    let material = state.signing_key_material.get_or_insert_with(shared::platform::crypto::random_token::<48>).clone();
    let secret_json = serde_json::json!({ "current": material }).to_string();
    ensure_secret(&shared::setup::client(&sdk), &secret_id, &secret_json).await?;
    let keys = KeySet::from_secret_json(&issuer, &secret_json)?;
    println!("signing key   {secret_id} (kid {})", keys.current_kid());
    // The public half, for the functions that only verify tokens: their TOKEN_PUBLIC_KEYS (dev.py reads this
    // file into their environment, as the deployment's TokenPublicKeys parameter does in AWS).
    let public_path = path.with_file_name("token-public-keys.json");
    std::fs::create_dir_all(public_path.parent().unwrap_or(Path::new(".")))?;
    std::fs::write(&public_path, serde_json::to_string(&keys.jwks())?)?;
    println!("public keys   {} (TOKEN_PUBLIC_KEYS of the functions)", public_path.display());
    save_state(&path, &state)?;

    let store = Store::new(dynamo, &table);
    let auth = AuthService::new(store.clone(), keys, Arc::new(SystemClock), TokenSettings::default());
    seed::default_tiers(&store).await?;
    println!("tiers         anonymous 10/day, free 100/day, pro 10000/day, enterprise unlimited");

    // Admin: ADMIN_EMAIL / ADMIN_PASSWORD when set, else a generated password kept in the state file.
    let admin_email = std::env::var("ADMIN_EMAIL")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| state.admin_email.clone().unwrap_or_else(|| "admin@example.com".into()));
    let admin_password = std::env::var("ADMIN_PASSWORD")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| state.admin_password.clone().filter(|_| state.admin_email.as_deref() == Some(&admin_email)))
        .unwrap_or_else(generated_password);
    let admin_note = match seed::user(&auth, &admin_email, &admin_password, "Admin", Role::Admin).await {
        Ok(_) => "created",
        Err(e) if e.code == "email_taken" => "exists",
        Err(e) => return Err(format!("seeding the admin: {e}").into()),
    };
    if admin_note == "created" || state.admin_email.as_deref() == Some(&admin_email) {
        state.admin_email = Some(admin_email.clone());
        state.admin_password = Some(admin_password.clone());
    }
    save_state(&path, &state)?;

    // Demo partner and its published solution.
    if store.get_solution(seed::DEMO_SOLUTION_ID).await?.is_none() {
        let email = "partner@example.com".to_owned();
        let password = generated_password();
        match seed::partner(&auth, &email, &password, "Demo Partner Ltd").await {
            Ok((_, partner)) => {
                state.partner_email = Some(email);
                state.partner_password = Some(password);
                state.partner_id = Some(partner.partner_id.clone());
            }
            Err(e) if e.code == "email_taken" => {}
            Err(e) => return Err(format!("seeding the demo partner: {e}").into()),
        }
        let partner_id =
            state.partner_id.clone().ok_or("demo partner exists but its id is unknown: run `make dev-reset`")?;
        let solution = seed::solution_with_id(
            &store,
            seed::DEMO_SOLUTION_ID,
            &partner_id,
            "Demo Solution",
            SolutionStatus::Published,
        )
        .await?;
        state.solution_id = Some(solution.solution_id);
        save_state(&path, &state)?;
    }

    // Stripe: the secret the subscriptions and stripe-webhook functions read, and the demo solution's prices.
    let stripe_secret_id = env("STRIPE_SECRET_ID")?;
    let stripe_secret = serde_json::json!({
        "secret_key": std::env::var("STRIPE_SECRET_KEY").unwrap_or_default(),
        "webhook_secrets": [env("STRIPE_WEBHOOK_SECRET")?],
    });
    ensure_secret(&shared::setup::client(&sdk), &stripe_secret_id, &stripe_secret.to_string()).await?;
    println!("stripe        {stripe_secret_id} (webhook secret from STRIPE_WEBHOOK_SECRET)");
    // PhonePe: the secret the subscriptions and phonepe-webhook functions read; the invoice bucket.
    if let Ok(phonepe_secret_id) = std::env::var("PHONEPE_SECRET_ID") {
        let secret = serde_json::json!({
            "client_id": std::env::var("PHONEPE_CLIENT_ID").unwrap_or_else(|_| fake_phonepe::CLIENT_ID.into()),
            "client_secret": std::env::var("PHONEPE_CLIENT_SECRET").unwrap_or_else(|_| fake_phonepe::CLIENT_SECRET.into()),
            "client_version": "1",
            "webhook_username": env("PHONEPE_WEBHOOK_USERNAME")?,
            "webhook_password": env("PHONEPE_WEBHOOK_PASSWORD")?,
        });
        ensure_secret(&shared::setup::client(&sdk), &phonepe_secret_id, &secret.to_string()).await?;
        println!("phonepe       {phonepe_secret_id} (webhook credentials from PHONEPE_WEBHOOK_USERNAME/_PASSWORD)");
    }
    if let Ok(from) = std::env::var("SENDER_EMAIL") {
        let ses = aws_sdk_sesv2::Client::new(&sdk);
        if ses.get_email_identity().email_identity(&from).send().await.is_err() {
            ses.create_email_identity().email_identity(&from).send().await?;
        }
        println!("email         from {from} (SES identity in moto)");
    }
    // Partners: the payout-sealing key (kept in the state file: sealed details outlive a restart) and the
    // asset bucket.
    if let Ok(partners_secret_id) = std::env::var("PARTNERS_SECRET_ID") {
        let key = state.payout_key.get_or_insert_with(shared::platform::crypto::random_token::<32>).clone();
        save_state(&path, &state)?;
        let secret = serde_json::json!({ "payout_key": key });
        ensure_secret(&shared::setup::client(&sdk), &partners_secret_id, &secret.to_string()).await?;
        println!("partners      {partners_secret_id} (payout-details sealing key)");
    }
    if let Ok(bucket) = std::env::var("ASSET_BUCKET") {
        let s3 = shared::platform::aws::s3(&sdk);
        if s3.head_bucket().bucket(&bucket).send().await.is_err() {
            s3.create_bucket().bucket(&bucket).send().await?;
        }
        // The console uploads straight from the browser (a presigned PUT): the bucket lets its origin do that,
        // as the template's CorsConfiguration lets AppBaseUrl.
        if let Ok(origin) = std::env::var("APP_BASE_URL") {
            use aws_sdk_s3::types::{CorsConfiguration, CorsRule};
            let rule = CorsRule::builder()
                .allowed_methods("PUT")
                .allowed_origins(origin.trim_end_matches('/'))
                .allowed_headers("content-type")
                .allowed_headers("content-length")
                .max_age_seconds(600)
                .build()?;
            let cors = CorsConfiguration::builder().cors_rules(rule).build()?;
            s3.put_bucket_cors().bucket(&bucket).cors_configuration(cors).send().await?;
        }
        println!("assets        s3://{bucket}");
    }
    if let Some(partner_id) = &state.partner_id {
        let seeded = seed::catalog(&store, partner_id, "Demo Partner Ltd").await?;
        println!("catalog       {seeded} published solutions (GET /api/solutions), plus a draft and a suspended one");
    }
    if let Ok(bucket) = std::env::var("INVOICE_BUCKET") {
        let s3 = shared::platform::aws::s3(&sdk);
        if s3.head_bucket().bucket(&bucket).send().await.is_err() {
            s3.create_bucket().bucket(&bucket).send().await?;
        }
        println!("invoices      s3://{bucket}");
    }
    // The catalog shows a solution's tiers as its item lists them: the demo solution's are the free tier and the
    // two priced below, so the console's catalog shows the plans checkout sells.
    let (free_daily, free_monthly) = Tier::Free.default_limits();
    let mut demo_tiers =
        vec![TierSpec { tier: Tier::Free, daily_limit: free_daily, monthly_limit: free_monthly, prices: vec![] }];
    for tier in [Tier::Pro, Tier::Enterprise] {
        let price_id = std::env::var(format!("STRIPE_PRICE_{}", tier.as_str().to_uppercase())).ok();
        let amount = if tier == Tier::Pro { 49_900 } else { 199_900 };
        let (daily, monthly) = tier.default_limits();
        let mut def = TierDefinitionItem::new(
            Some(seed::DEMO_SOLUTION_ID),
            tier,
            daily,
            monthly,
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        );
        def.prices = vec![Price {
            amount,
            currency: "inr".into(),
            period: BillingPeriod::Monthly,
            stripe_price_id: price_id.clone(),
            // Pro is usage-priced: 5,000 events a month included, then ₹10 per 1,000 (a soft limit).
            usage: (tier == Tier::Pro).then(|| shared::model::UsagePricing {
                included_monthly: 5_000,
                limit: shared::model::UsageLimit::Soft,
                block_size: 1_000,
                blocks: vec![shared::model::OverageBlock { up_to: None, amount: 1_000 }],
            }),
        }];
        store.put_tier_definition(&def).await?;
        demo_tiers.push(TierSpec { tier, daily_limit: daily, monthly_limit: monthly, prices: def.prices.clone() });
        let stripe = price_id.map_or_else(|| "PhonePe only".to_owned(), |p| format!("Stripe {p}"));
        let usage = if tier == Tier::Pro { ", 5,000 events a month included, then ₹10 per 1,000" } else { "" };
        println!("demo price    {} ₹{}/month{usage} ({stripe})", tier.as_str(), amount / 100);
    }
    if let Some(mut demo) = store.get_solution(seed::DEMO_SOLUTION_ID).await?
        && demo.tiers != demo_tiers
    {
        demo.tiers = demo_tiers;
        store.put_solution(&demo).await?;
    }

    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(unchanged; not known to this state)".into());
    println!();
    println!(
        "admin         {admin_email} / {}",
        if admin_note == "exists" && state.admin_email.as_deref() != Some(&admin_email) {
            "(existing account; password unchanged)".to_owned()
        } else {
            admin_password
        }
    );
    println!(
        "demo partner  {} / {} (partner {})",
        show(&state.partner_email),
        show(&state.partner_password),
        show(&state.partner_id)
    );
    println!("demo solution {}", show(&state.solution_id));
    println!("state         {}", path.display());
    Ok(())
}

/// The PhonePe stand-in, until stopped.
async fn phonepe() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = args
        .iter()
        .position(|a| a == "--port")
        .and_then(|i| args.get(i + 1))
        .and_then(|p| p.parse().ok())
        .ok_or("devstack phonepe --port N")?;
    let standin = fake_phonepe::FakePhonePe::start_on(port).await?;
    if let Ok(url) = std::env::var("PHONEPE_CALLBACK_URL") {
        standin.set_callback(fake_phonepe::CallbackTarget {
            url,
            username: env("PHONEPE_WEBHOOK_USERNAME")?,
            password: env("PHONEPE_WEBHOOK_PASSWORD")?,
        });
    }
    println!("phonepe stand-in on {} (client id {})", standin.base, fake_phonepe::CLIENT_ID);
    std::future::pending::<()>().await;
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let command = std::env::args().nth(1).unwrap_or_default();
    let result = match command.as_str() {
        "setup" => setup().await,
        "phonepe" => phonepe().await,
        _ => Err("usage: devstack setup | devstack phonepe --port N".into()),
    };
    if let Err(e) = result {
        eprintln!("devstack: {e}");
        std::process::exit(1);
    }
}
