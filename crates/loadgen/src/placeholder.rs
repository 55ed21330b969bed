//! The `{{id}}` placeholder in URLs, headers and bodies: split once when the plan is
//! prepared, filled cheaply per request.

/// The text `{{id}}` stands for the request's unique id.
pub const ID_PLACEHOLDER: &str = "{{id}}";

/// A text with zero or more `{{id}}` placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdText {
    /// The literal pieces between placeholders: one more than there are placeholders.
    pieces: Vec<String>,
}

impl IdText {
    pub fn parse(text: &str) -> Self {
        IdText {
            pieces: text.split(ID_PLACEHOLDER).map(str::to_string).collect(),
        }
    }

    /// Whether the text holds at least one placeholder.
    pub fn has_id(&self) -> bool {
        self.pieces.len() > 1
    }

    /// The text itself when it has no placeholder.
    pub fn literal(&self) -> Option<&str> {
        match self.pieces.as_slice() {
            [only] => Some(only),
            _ => None,
        }
    }

    /// The text with every placeholder replaced by `id`.
    pub fn render(&self, id: &str) -> String {
        let literal_len: usize = self.pieces.iter().map(String::len).sum();
        let mut out = String::with_capacity(literal_len + id.len() * (self.pieces.len() - 1));
        for (i, piece) in self.pieces.iter().enumerate() {
            if i > 0 {
                out.push_str(id);
            }
            out.push_str(piece);
        }
        out
    }
}

/// Characters an id prefix may hold: URL-unreserved, so an id is safe unescaped in a path,
/// a query, a header value and a JSON string.
pub fn is_valid_id_prefix(prefix: &str) -> bool {
    prefix
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'-'))
}

/// The id of request `seq`.
pub fn request_id(prefix: &str, seq: u64) -> String {
    format!("{prefix}{seq}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_every_placeholder() {
        let t = IdText::parse(r#"{"id":"{{id}}","ref":"{{id}}-x"}"#);
        assert!(t.has_id());
        assert_eq!(t.render("w-7"), r#"{"id":"w-7","ref":"w-7-x"}"#);
    }

    #[test]
    fn placeholder_at_the_edges_and_alone() {
        assert_eq!(IdText::parse("{{id}}").render("a1"), "a1");
        assert_eq!(IdText::parse("{{id}}/x/{{id}}").render("a1"), "a1/x/a1");
    }

    #[test]
    fn text_without_placeholder_is_literal() {
        let t = IdText::parse("/quote?symbol=BTCUSD");
        assert!(!t.has_id());
        assert_eq!(t.literal(), Some("/quote?symbol=BTCUSD"));
        assert_eq!(t.render("ignored"), "/quote?symbol=BTCUSD");
        // Near misses are literal text, not placeholders.
        assert!(!IdText::parse("{{ id }} {id} {{ID}}").has_id());
    }

    #[test]
    fn ids_are_prefix_plus_sequence() {
        assert_eq!(request_id("run42-", 0), "run42-0");
        assert_eq!(request_id("", 17), "17");
    }

    #[test]
    fn prefixes_must_be_url_and_json_safe() {
        assert!(is_valid_id_prefix("run-2026.11_23~a"));
        assert!(is_valid_id_prefix(""));
        for bad in ["a b", "a\"b", "a/b", "a?b", "é", "a{b"] {
            assert!(!is_valid_id_prefix(bad), "{bad:?}");
        }
    }
}
