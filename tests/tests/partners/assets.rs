//! Asset uploads: a presigned PUT whose signature covers the content type and the exact size.

use crate::fields;
use integration_tests::partners::PartnersEnv;
use serde_json::json;

#[tokio::test]
async fn an_asset_upload_is_presigned_for_one_type_and_size() {
    let t = PartnersEnv::new().await;
    let a = t.partner("Acme Labs").await;
    let id = t.draft(&a, "Acme Search", None).await;
    let token = Some(a.session.access_token.as_str());
    let uri = format!("/api/partners/solutions/{id}/assets");
    let png = vec![0x89u8; 2048];
    let r = t
        .call("POST", &uri, Some(json!({"kind": "logo", "content_type": "image/png", "size": png.len()})), token)
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let url = r.body["upload_url"].as_str().expect("url").to_owned();
    let key = r.body["key"].as_str().expect("key").to_owned();
    assert!(key.starts_with(&format!("solutions/{id}/logo-")) && key.ends_with(".png"));
    let signed = url::Url::parse(&url)
        .expect("url")
        .query_pairs()
        .find(|(k, _)| k == "X-Amz-SignedHeaders")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    assert!(signed.contains("content-length") && signed.contains("content-type"), "signed headers: {signed}");
    let http = shared::platform::provider_http::client(std::time::Duration::from_secs(10)).expect("http client");
    let put = http.put(&url).header("content-type", "image/png").body(png.clone()).send().await.expect("upload");
    assert!(put.status().is_success(), "upload: {}", put.status());
    let stored = t.s3.get_object().bucket(&t.bucket).key(&key).send().await.expect("stored");
    assert_eq!(stored.content_length(), Some(2048));
    let view = t.call("GET", &format!("/api/partners/solutions/{id}"), None, token).await;
    assert_eq!(view.body["assets"]["logo"], key.as_str());
    for (body, field) in [
        (json!({"kind": "logo", "content_type": "image/svg+xml", "size": 10}), "content_type"),
        (json!({"kind": "logo", "content_type": "image/png", "size": 600_000}), "size"),
        (json!({"kind": "docs", "content_type": "application/pdf", "size": 20_000_000}), "size"),
        (json!({"kind": "video", "content_type": "video/mp4", "size": 10}), "kind"),
    ] {
        let r = t.call("POST", &uri, Some(body), token).await;
        assert_eq!((r.status, fields(&r)), (400, vec![field.to_owned()]));
    }
}
