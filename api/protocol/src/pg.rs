//! How the wire types are stored in Postgres (feature `sqlx`, enabled by the api only; the edge
//! never enables it, so it stays free of sqlx and builds for wasm).
//!
//! Prefixed ids bind and decode as `uuid` (arrays as `uuid[]`), exactly like the `Uuid` they wrap;
//! the prefix exists only on the wire. Closed sets of names ([`crate::Role`],
//! [`crate::ws::ConversationStatus`], and the api's own column enums through [`pg_text_enum!`])
//! bind as plain `text` by their stable name and decode through `FromStr`, so the existing `text`
//! columns need no Postgres enum type and no extra round trip to look one up.

#[doc(hidden)]
pub use sqlx as __sqlx;

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

/// Stores a closed set of names in a `text` column: implements `sqlx::Type<Postgres>` (as
/// `text`, compatible with whatever `str` accepts), `Encode` (the type's `as_str`) and `Decode`
/// (its `FromStr`; a value outside the set is a decode error, i.e. a bug, not a client error).
///
/// The type must be `Copy`, have `fn as_str(self) -> &'static str`, and implement `FromStr` with
/// an error that is `std::error::Error + Send + Sync + 'static`.
#[macro_export]
macro_rules! pg_text_enum {
    ($name:ty) => {
        impl $crate::pg::__sqlx::Type<$crate::pg::__sqlx::Postgres> for $name {
            fn type_info() -> $crate::pg::__sqlx::postgres::PgTypeInfo {
                <str as $crate::pg::__sqlx::Type<$crate::pg::__sqlx::Postgres>>::type_info()
            }

            fn compatible(ty: &$crate::pg::__sqlx::postgres::PgTypeInfo) -> bool {
                <str as $crate::pg::__sqlx::Type<$crate::pg::__sqlx::Postgres>>::compatible(ty)
            }
        }

        impl $crate::pg::__sqlx::Encode<'_, $crate::pg::__sqlx::Postgres> for $name {
            fn encode_by_ref(
                &self,
                buf: &mut $crate::pg::__sqlx::postgres::PgArgumentBuffer,
            ) -> Result<$crate::pg::__sqlx::encode::IsNull, $crate::pg::__sqlx::error::BoxDynError> {
                <&str as $crate::pg::__sqlx::Encode<'_, $crate::pg::__sqlx::Postgres>>::encode(
                    <$name>::as_str(*self),
                    buf,
                )
            }

            fn size_hint(&self) -> usize {
                <$name>::as_str(*self).len()
            }
        }

        impl<'r> $crate::pg::__sqlx::Decode<'r, $crate::pg::__sqlx::Postgres> for $name {
            fn decode(
                value: $crate::pg::__sqlx::postgres::PgValueRef<'r>,
            ) -> Result<Self, $crate::pg::__sqlx::error::BoxDynError> {
                let text = <&str as $crate::pg::__sqlx::Decode<'r, $crate::pg::__sqlx::Postgres>>::decode(value)?;
                Ok(text.parse::<$name>()?)
            }
        }
    };
}

pg_text_enum!(crate::Role);
pg_text_enum!(crate::ws::ConversationStatus);
