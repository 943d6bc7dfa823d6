//! How the wire types are stored in Postgres (feature `sqlx`, enabled by the api only; the edge
//! never enables it, so it stays free of sqlx and builds for wasm).
//!
//! Prefixed ids bind and decode as `uuid` (arrays as `uuid[]`), exactly like the `Uuid` they wrap;
//! the prefix exists only on the wire.

/// Implements `sqlx::Type`, `Encode`, `Decode` and `PgHasArrayType` for a newtype over `Uuid`
/// (field `.0`), delegating to `Uuid`.
macro_rules! uuid_newtype {
    ($name:ident) => {
        impl ::sqlx::Type<::sqlx::Postgres> for $name {
            fn type_info() -> ::sqlx::postgres::PgTypeInfo {
                <::uuid::Uuid as ::sqlx::Type<::sqlx::Postgres>>::type_info()
            }

            fn compatible(ty: &::sqlx::postgres::PgTypeInfo) -> bool {
                <::uuid::Uuid as ::sqlx::Type<::sqlx::Postgres>>::compatible(ty)
            }
        }

        impl ::sqlx::postgres::PgHasArrayType for $name {
            fn array_type_info() -> ::sqlx::postgres::PgTypeInfo {
                <::uuid::Uuid as ::sqlx::postgres::PgHasArrayType>::array_type_info()
            }

            fn array_compatible(ty: &::sqlx::postgres::PgTypeInfo) -> bool {
                <::uuid::Uuid as ::sqlx::postgres::PgHasArrayType>::array_compatible(ty)
            }
        }

        impl ::sqlx::Encode<'_, ::sqlx::Postgres> for $name {
            fn encode_by_ref(
                &self,
                buf: &mut ::sqlx::postgres::PgArgumentBuffer,
            ) -> Result<::sqlx::encode::IsNull, ::sqlx::error::BoxDynError> {
                <::uuid::Uuid as ::sqlx::Encode<'_, ::sqlx::Postgres>>::encode_by_ref(&self.0, buf)
            }

            fn size_hint(&self) -> usize {
                <::uuid::Uuid as ::sqlx::Encode<'_, ::sqlx::Postgres>>::size_hint(&self.0)
            }
        }

        impl<'r> ::sqlx::Decode<'r, ::sqlx::Postgres> for $name {
            fn decode(value: ::sqlx::postgres::PgValueRef<'r>) -> Result<Self, ::sqlx::error::BoxDynError> {
                <::uuid::Uuid as ::sqlx::Decode<'r, ::sqlx::Postgres>>::decode(value).map(Self)
            }
        }
    };
}
pub(crate) use uuid_newtype;
