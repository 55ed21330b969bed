//! YAML shapes that accept either a short scalar or a longer form (`at: 10s` or
//! `at: { between: [5s, 15s] }`; `compose: a.yml` or a list). Written as explicit visitors
//! rather than `#[serde(untagged)]` because untagged enums lose serde-saphyr's source
//! spans and reduce every mistake to "did not match any variant".

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// What a field expects, for serde's "invalid type: ..., expected ..." message.
pub trait Expecting {
    const EXPECTING: &'static str;
}

/// A scalar (kept as its text) or a mapping deserialized as `M`.
#[derive(Debug, Clone)]
pub enum ScalarOr<M> {
    Scalar(String),
    Map(M),
}

struct ScalarOrVisitor<M>(PhantomData<M>);

impl<'de, M: Deserialize<'de> + Expecting> Visitor<'de> for ScalarOrVisitor<M> {
    type Value = ScalarOr<M>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(M::EXPECTING)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(ScalarOr::Scalar(v.to_string()))
    }

    // Numbers are kept as text so that `at: 10` is reported as "no unit", not as a type error.
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(ScalarOr::Scalar(v.to_string()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(ScalarOr::Scalar(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(ScalarOr::Scalar(v.to_string()))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        M::deserialize(MapAccessDeserializer::new(map)).map(ScalarOr::Map)
    }
}

impl<'de, M: Deserialize<'de> + Expecting> Deserialize<'de> for ScalarOr<M> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScalarOrVisitor(PhantomData))
    }
}

impl<M: JsonSchema> JsonSchema for ScalarOr<M> {
    fn schema_name() -> Cow<'static, str> {
        format!("StringOr{}", M::schema_name()).into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "anyOf": [
                { "type": ["string", "number"] },
                generator.subschema_for::<M>(),
            ]
        })
    }
}

/// One item written as a scalar, or a list of items.
#[derive(Debug, Clone)]
pub enum OneOrList<T> {
    One(String),
    List(Vec<T>),
}

struct OneOrListVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for OneOrListVisitor<T> {
    type Value = OneOrList<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or a list of strings")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(OneOrList::One(v.to_string()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Vec::<T>::deserialize(SeqAccessDeserializer::new(seq)).map(OneOrList::List)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrList<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(OneOrListVisitor(PhantomData))
    }
}

impl<T> JsonSchema for OneOrList<T> {
    fn schema_name() -> Cow<'static, str> {
        "StringOrList".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "anyOf": [
                { "type": "string" },
                { "type": "array", "items": { "type": "string" } },
            ]
        })
    }
}
