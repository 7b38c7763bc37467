//! Solution assets (logo, documentation): the partner uploads straight to S3 with a presigned PUT whose
//! signature covers the content type and the exact length, so the upload cannot be another type or size.

use super::{Caller, PartnerService, now_rfc3339};
use crate::platform::error::{ApiError, FieldError, codes};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// What may be uploaded: kind → (allowed content types with their file extension, maximum bytes).
pub fn asset_rules(kind: &str) -> Option<(&'static [(&'static str, &'static str)], u64)> {
    match kind {
        "logo" => Some((&[("image/png", "png"), ("image/jpeg", "jpg"), ("image/webp", "webp")], 512 * 1024)),
        "docs" => Some((&[("application/pdf", "pdf"), ("text/markdown", "md")], 10 * 1024 * 1024)),
        _ => None,
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssetRequest {
    pub kind: String,
    pub content_type: String,
    /// The exact size of the file in bytes.
    pub size: u64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct AssetUpload {
    pub kind: String,
    pub key: String,
    pub method: String,
    pub upload_url: String,
    /// Headers the upload must send exactly (they are signed).
    pub headers: BTreeMap<String, String>,
    pub expires_at: String,
}

/// Check an upload request: the kind, a content type allowed for it, a size within its limit. The file
/// extension of the allowed type.
pub fn check_asset(req: &AssetRequest) -> Result<&'static str, ApiError> {
    let Some((types, max)) = asset_rules(&req.kind) else {
        return Err(ApiError::field("kind", "must be logo or docs"));
    };
    let mut errors = Vec::new();
    let ext = types.iter().find(|(t, _)| *t == req.content_type.trim().to_ascii_lowercase()).map(|(_, e)| *e);
    if ext.is_none() {
        let allowed: Vec<&str> = types.iter().map(|(t, _)| *t).collect();
        errors.push(FieldError::new("content_type", format!("must be one of {}", allowed.join(", "))));
    }
    if req.size == 0 || req.size > max {
        errors.push(FieldError::new("size", format!("must be 1 to {max} bytes")));
    }
    match ext {
        Some(ext) if errors.is_empty() => Ok(ext),
        _ => Err(ApiError::validation(errors)),
    }
}

impl PartnerService {
    /// `POST /api/partners/solutions/{id}/assets`: a presigned upload of a logo or docs for a solution the
    /// caller owns; the solution records the object key (the catalog shows the latest).
    pub async fn asset_upload(
        &self,
        caller: &Caller,
        solution_id: &str,
        req: AssetRequest,
    ) -> Result<AssetUpload, ApiError> {
        let current = self.own_solution(caller, solution_id).await?;
        let ext = check_asset(&req)?;
        let Some(assets) = &self.assets else {
            return Err(ApiError::new(
                503,
                codes::ASSETS_NOT_CONFIGURED,
                "Service unavailable",
                "asset uploads are not configured",
            ));
        };
        let content_type = req.content_type.trim().to_ascii_lowercase();
        let key =
            format!("solutions/{solution_id}/{}-{}.{ext}", req.kind, ulid::Ulid::new().to_string().to_lowercase());
        let config = aws_sdk_s3::presigning::PresigningConfig::expires_in(Duration::from_secs(assets.upload_seconds))
            .map_err(ApiError::internal)?;
        let size = i64::try_from(req.size).map_err(ApiError::internal)?;
        let presigned = assets
            .s3
            .put_object()
            .bucket(&assets.bucket)
            .key(&key)
            .content_type(&content_type)
            .content_length(size)
            .presigned(config)
            .await
            .map_err(ApiError::internal)?;
        let mut next = current.clone();
        next.assets.insert(req.kind.clone(), key.clone());
        next.updated_at = now_rfc3339(self.clock.as_ref());
        next.version = current.version + 1;
        self.save(&next, current.version, Vec::new()).await?;
        let expires = self.clock.now() + chrono::Duration::seconds(i64::try_from(assets.upload_seconds).unwrap_or(600));
        let headers = BTreeMap::from([
            ("content-type".to_owned(), content_type),
            ("content-length".to_owned(), req.size.to_string()),
        ]);
        Ok(AssetUpload {
            kind: req.kind,
            key,
            method: "PUT".into(),
            upload_url: presigned.uri().to_owned(),
            headers,
            expires_at: crate::platform::clock::rfc3339(expires),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asset_rules_limit_type_and_size() {
        let req = |kind: &str, ct: &str, size| AssetRequest { kind: kind.into(), content_type: ct.into(), size };
        assert_eq!(check_asset(&req("logo", "image/png", 1000)).ok(), Some("png"));
        assert_eq!(check_asset(&req("docs", "application/pdf", 10 * 1024 * 1024)).ok(), Some("pdf"));
        let field = |r: &AssetRequest| check_asset(r).err().map(|e| e.to_problem()["errors"][0]["field"].clone());
        assert_eq!(field(&req("logo", "image/svg+xml", 10)), Some("content_type".into()));
        assert_eq!(field(&req("logo", "image/png", 512 * 1024 + 1)), Some("size".into()));
        assert_eq!(field(&req("logo", "image/png", 0)), Some("size".into()));
        assert_eq!(field(&req("banner", "image/png", 10)), Some("kind".into()));
    }
}
