//! The object store behind attachments: one `object_store::ObjectStore` interface with a local
//! directory backend (development, one node) and an S3-compatible backend (production; AWS S3,
//! MinIO, Cloudflare R2, Aliyun OSS…). Keys are `<tenant uuid>/<attachment uuid>`.

use std::sync::Arc;

use bytes::Bytes;
use kefu_protocol::{AttachmentId, TenantId};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use secrecy::ExposeSecret;

use crate::config::{AttachmentBackend, AttachmentsConfig};

/// Where attachment bytes are kept.
#[derive(Clone)]
pub struct AttachmentStore {
    inner: Arc<dyn ObjectStore>,
}

impl std::fmt::Debug for AttachmentStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AttachmentStore({})", self.inner)
    }
}

impl AttachmentStore {
    /// Opens the configured backend (creating the local directory if needed).
    pub fn open(config: &AttachmentsConfig) -> anyhow::Result<Self> {
        let inner: Arc<dyn ObjectStore> = match config.backend {
            AttachmentBackend::Local => {
                std::fs::create_dir_all(&config.local_dir).map_err(|e| {
                    anyhow::anyhow!("attachments.local_dir {} cannot be created: {e}", config.local_dir)
                })?;
                Arc::new(object_store::local::LocalFileSystem::new_with_prefix(&config.local_dir)?)
            }
            AttachmentBackend::S3 => {
                let mut builder = object_store::aws::AmazonS3Builder::new()
                    .with_bucket_name(config.s3_bucket.clone().unwrap_or_default())
                    .with_region(&config.s3_region)
                    .with_access_key_id(config.s3_access_key_id.clone().unwrap_or_default())
                    .with_secret_access_key(
                        config.s3_secret_access_key.as_ref().map(|s| s.expose_secret().to_owned()).unwrap_or_default(),
                    )
                    .with_allow_http(config.s3_allow_http);
                if let Some(endpoint) = &config.s3_endpoint {
                    // S3-compatible services address buckets by path.
                    builder = builder.with_endpoint(endpoint).with_virtual_hosted_style_request(false);
                }
                Arc::new(builder.build()?)
            }
        };
        Ok(Self { inner })
    }

    fn key(tenant: TenantId, attachment: AttachmentId) -> Path {
        Path::from(format!("{}/{}", tenant.simple(), attachment.simple()))
    }

    /// The key an attachment is kept under.
    pub fn key_of(tenant: TenantId, attachment: AttachmentId) -> String {
        Self::key(tenant, attachment).to_string()
    }

    /// Stores the bytes.
    pub async fn put(&self, key: &str, bytes: Bytes) -> object_store::Result<()> {
        self.inner.put(&Path::from(key), PutPayload::from_bytes(bytes)).await.map(|_| ())
    }

    /// Reads the bytes back.
    pub async fn get(&self, key: &str) -> object_store::Result<Bytes> {
        self.inner.get(&Path::from(key)).await?.bytes().await
    }

    /// Removes an object (a failed upload's leftover).
    pub async fn delete(&self, key: &str) -> object_store::Result<()> {
        self.inner.delete(&Path::from(key)).await
    }

    /// Reads the bytes back a chunk at a time (an export's part, which can be large).
    pub async fn get_stream(
        &self,
        key: &str,
    ) -> object_store::Result<futures_util::stream::BoxStream<'static, object_store::Result<Bytes>>> {
        Ok(self.inner.get(&Path::from(key)).await?.into_stream())
    }

    /// Whether a file is stored under `key`.
    pub async fn exists(&self, key: &str) -> object_store::Result<bool> {
        match self.inner.head(&Path::from(key)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Removes every file of a tenant (after the tenant's deletion): attachments and exports;
    /// returns how many.
    pub async fn delete_tenant(&self, tenant: TenantId) -> object_store::Result<u64> {
        self.delete_prefix(&tenant.simple().to_string()).await
    }

    /// Removes every file under a prefix (whole path segments); returns how many.
    pub async fn delete_prefix(&self, prefix: &str) -> object_store::Result<u64> {
        use futures_util::StreamExt;
        let prefix = Path::from(prefix);
        let locations = self.inner.list(Some(&prefix)).map(|meta| meta.map(|m| m.location)).boxed();
        let mut deleted = self.inner.delete_stream(locations);
        let mut count = 0;
        while let Some(done) = deleted.next().await {
            done?;
            count += 1;
        }
        Ok(count)
    }
}
