//! `Method`: the one table of HTTP methods chaosgate sends, shared by the load generator's
//! templates, `chaosgate load --method` and the scenario validation, so that a method one
//! of them accepts is never refused by another half-way through a run.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An HTTP method a request template may use. Parsed case-insensitively (`patch` = `PATCH`);
/// written in upper case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    /// `GET`.
    Get,
    /// `HEAD`.
    Head,
    /// `POST`.
    Post,
    /// `PUT`.
    Put,
    /// `PATCH`.
    Patch,
    /// `DELETE`.
    Delete,
    /// `OPTIONS`.
    Options,
}

impl Method {
    /// Every method, in the order error messages list them.
    pub const ALL: [Method; 7] = [
        Method::Get,
        Method::Head,
        Method::Post,
        Method::Put,
        Method::Patch,
        Method::Delete,
        Method::Options,
    ];

    /// The method as sent on the wire (upper case).
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
        }
    }

    /// The valid names joined for messages: `GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS`.
    pub fn names() -> String {
        Method::ALL
            .iter()
            .map(|m| m.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub(crate) fn to_hyper(self) -> hyper::Method {
        match self {
            Method::Get => hyper::Method::GET,
            Method::Head => hyper::Method::HEAD,
            Method::Post => hyper::Method::POST,
            Method::Put => hyper::Method::PUT,
            Method::Patch => hyper::Method::PATCH,
            Method::Delete => hyper::Method::DELETE,
            Method::Options => hyper::Method::OPTIONS,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A method name that is not one of [`Method::ALL`]; its message lists the valid ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown HTTP method `{got}` (expected one of {})", Method::names())]
pub struct UnknownMethod {
    /// The text as written.
    pub got: String,
}

impl FromStr for Method {
    type Err = UnknownMethod;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Method::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownMethod { got: s.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_round_trips_through_its_name_in_any_case() {
        for m in Method::ALL {
            assert_eq!(m.as_str().parse::<Method>(), Ok(m));
            assert_eq!(m.as_str().to_ascii_lowercase().parse::<Method>(), Ok(m));
            assert_eq!(m.to_hyper().as_str(), m.as_str());
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(json, format!("\"{}\"", m.as_str()));
            assert_eq!(serde_json::from_str::<Method>(&json).unwrap(), m);
        }
    }

    #[test]
    fn an_unknown_method_names_the_valid_ones() {
        let e = "BREW".parse::<Method>().unwrap_err();
        assert_eq!(e.got, "BREW");
        assert_eq!(
            e.to_string(),
            "unknown HTTP method `BREW` (expected one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS)"
        );
        assert!("".parse::<Method>().is_err());
        assert!("GET POST".parse::<Method>().is_err());
    }
}
