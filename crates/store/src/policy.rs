//! Access policies: what a member's focal-point role may do in an S3 lake.
//!
//! The policy lets the role put objects in its own inbox prefix, read its own
//! receipts and list those two prefixes, and denies it every other object of
//! the bucket, so members can neither see nor overwrite each other's returns
//! (nor anything in `accepted/`, `rejected/` or `runs/`).

use fedreport_contract::Registry;
use serde_json::{Value, json};

use crate::error::{Result, StoreError};
use crate::lake::Lake;
use crate::layout;

/// The S3 bucket policy (JSON) for one member's focal-point principal.
pub fn s3_member_policy(lake: &Lake, registry: &Registry, member: &str, principal: &str) -> Result<Value> {
    let url = lake.root_url();
    if !matches!(url.scheme(), "s3" | "s3a") {
        return Err(StoreError::Invalid(format!(
            "access policies are S3 bucket policies; {} is not an s3:// lake",
            lake.location()
        )));
    }
    if !registry.is_reporting_member(member) {
        return Err(StoreError::Invalid(format!("'{member}' is not a state or territory of the member registry")));
    }
    let bucket = url.host_str().unwrap_or_default();
    let prefix = lake.path("").to_string();
    let key = |rel: &str| if prefix.is_empty() { rel.to_string() } else { format!("{prefix}/{rel}") };
    let inbox = key(&layout::inbox(member));
    let receipts = key(&layout::receipts(Some(member)));
    let arn = |k: &str| format!("arn:aws:s3:::{bucket}/{k}*");
    let who = json!({ "AWS": principal });
    Ok(json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": format!("FedreportSubmit{member}"),
                "Effect": "Allow",
                "Principal": who,
                "Action": ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
                "Resource": arn(&inbox)
            },
            {
                "Sid": format!("FedreportReceipts{member}"),
                "Effect": "Allow",
                "Principal": who,
                "Action": ["s3:GetObject"],
                "Resource": arn(&receipts)
            },
            {
                "Sid": format!("FedreportList{member}"),
                "Effect": "Allow",
                "Principal": who,
                "Action": ["s3:ListBucket"],
                "Resource": format!("arn:aws:s3:::{bucket}"),
                "Condition": { "StringLike": { "s3:prefix": [format!("{inbox}*"), format!("{receipts}*")] } }
            },
            {
                "Sid": format!("FedreportDenyOthers{member}"),
                "Effect": "Deny",
                "Principal": who,
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                "NotResource": [arn(&inbox), arn(&receipts)]
            },
            {
                "Sid": format!("FedreportNoDeletes{member}"),
                "Effect": "Deny",
                "Principal": who,
                "Action": ["s3:DeleteObject", "s3:DeleteObjectVersion"],
                "Resource": format!("arn:aws:s3:::{bucket}/*")
            }
        ]
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_may_write_only_its_inbox_and_read_only_its_receipts() {
        let store = std::sync::Arc::new(object_store::memory::InMemory::new());
        let url = url::Url::parse("s3://bali-returns/lake/").unwrap();
        let lake = Lake::from_store(store, url, object_store::path::Path::from("lake"));
        let csv = "code,name,kind,subregion\nAUS,Australia,state,Oceania\nNZL,New Zealand,state,Oceania\nIOM,International Organization for Migration,organisation,\n";
        let reg = Registry::parse(csv, "AUS\nNZL\n").unwrap();
        let p = s3_member_policy(&lake, &reg, "AUS", "arn:aws:iam::123456789012:role/focal-aus").unwrap();
        let s = &p["Statement"];
        assert_eq!(s[0]["Resource"], "arn:aws:s3:::bali-returns/lake/inbox/AUS/*");
        assert_eq!(s[1]["Resource"], "arn:aws:s3:::bali-returns/lake/receipts/AUS/*");
        assert_eq!(s[0]["Action"][0], "s3:PutObject");
        assert_eq!(s[1]["Action"], json!(["s3:GetObject"]));
        assert_eq!(s[3]["Effect"], "Deny");
        assert!(!p.to_string().contains("NZL"));
        assert!(s3_member_policy(&lake, &reg, "IOM", "x").is_err(), "organisations do not submit");
        let local = Lake::from_store(
            std::sync::Arc::new(object_store::memory::InMemory::new()),
            url::Url::parse("file:///tmp/lake/").unwrap(),
            object_store::path::Path::from("tmp/lake"),
        );
        assert!(s3_member_policy(&local, &reg, "AUS", "x").is_err());
    }
}
