//! The S3 server the tests share (`.ci/s3.sh` starts SeaweedFS and exports its
//! endpoint): whether there is one, a bucket seen directly through the S3 API, and its
//! removal, since SeaweedFS reserves volumes for every bucket left behind.

use std::time::Duration;

use davgate_storage::blob::{BlobStore, MIN_PART_SIZE};
use davgate_storage::{S3BlobStore, S3Config};

use super::interop_required;

/// The S3 endpoint from `.ci/s3.sh`, or `None` to skip (a failure when CI requires it).
pub fn endpoint() -> Option<String> {
    let endpoint = std::env::var("DAVGATE_S3_ENDPOINT").ok();
    if endpoint.is_none() {
        assert!(
            !interop_required(),
            "DAVGATE_S3_ENDPOINT is required (start .ci/s3.sh)"
        );
        eprintln!("no S3 server (DAVGATE_S3_ENDPOINT unset): skipping");
    }
    endpoint
}

/// A fresh bucket name for one test.
pub fn bucket_name(prefix: &str) -> String {
    format!("{prefix}-{:016x}", rand::random::<u64>())
}

/// The bucket `name` seen directly: every object counted whatever its age.
pub fn bucket(endpoint: &str, name: &str) -> S3BlobStore {
    S3BlobStore::open(&S3Config {
        endpoint: Some(endpoint.to_owned()),
        bucket: name.to_owned(),
        region: "us-east-1".into(),
        path_style: true,
        access_key_id: None,
        secret_access_key: None,
        part_size: MIN_PART_SIZE,
        allow_http: true,
        gc_grace: Duration::ZERO,
        multipart_max_age: Duration::from_secs(86400),
    })
    .expect("the S3 test bucket opens")
}

/// Empties and deletes `bucket`.
pub async fn remove_bucket(bucket: &S3BlobStore) {
    for blob in bucket.list().await.unwrap() {
        bucket.delete(&blob.key).await.unwrap();
    }
    bucket.delete_bucket().await.unwrap();
}
