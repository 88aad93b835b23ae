//! Redaction of captured bodies for `meshctl tap --body`: the same names that are redacted
//! as headers (the always-redacted credentials plus `--tap-redact`), and the usual credential
//! field names, lose their values in JSON and form bodies before a body leaves the proxy.
//!
//! Contract: works on any prefix of a body (a capture may end mid-value; whatever follows a
//! redacted key is then dropped). JSON means a JSON content type, or none or `text/*` with a
//! body starting like JSON; other bodies (plain text, protobuf, binary) pass unchanged — the
//! tap's documentation says so. A body whose content type claims JSON but that is not JSON
//! (nor a prefix of JSON) is replaced whole by [`NOT_JSON`]: the scanner cannot be trusted to
//! find the credentials in it, so none of it is shown.

use std::borrow::Cow;
use std::collections::HashSet;

use crate::proxy::telemetry::tap::REDACTED;

/// [`REDACTED`] percent-encoded, for query strings.
pub const REDACTED_IN_URI: &str = "%3Credacted%3E";

/// What a body typed as JSON that does not parse as JSON is shown as.
pub const NOT_JSON: &str = "<redacted: the content type says JSON but the body is not JSON>";

/// Body field names redacted whatever the configuration (compared lowercase, `-` as `_`).
pub const BODY_FIELDS: [&str; 11] = [
    "password",
    "passwd",
    "secret",
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "api_key",
    "apikey",
    "private_key",
];

/// The names whose values are redacted in bodies, normalised: lowercase, `-` as `_`.
#[derive(Debug, Clone)]
pub struct BodyRedaction {
    names: HashSet<String>,
}

impl BodyRedaction {
    /// `header_names`: the header names redacted by this proxy; they count as field names too.
    pub fn new<'a>(header_names: impl IntoIterator<Item = &'a str>) -> Self {
        let names = header_names
            .into_iter()
            .chain(BODY_FIELDS)
            .map(normalise)
            .collect();
        BodyRedaction { names }
    }

    fn redacts(&self, key: &str) -> bool {
        self.names.contains(&normalise(key))
    }

    /// `body` (or a prefix of it) with credential values replaced by `<redacted>`.
    pub fn apply<'b>(&self, content_type: Option<&str>, body: &'b [u8]) -> Cow<'b, [u8]> {
        let essence = content_type
            .and_then(|c| c.split(';').next())
            .map(|c| c.trim().to_ascii_lowercase())
            .unwrap_or_default();
        let json_type = essence == "application/json" || essence.ends_with("+json");
        // Untyped or text bodies that look like JSON are treated as JSON: safer to redact.
        let looks_json = (essence.is_empty() || essence.starts_with("text/"))
            && body
                .iter()
                .find(|b| !b.is_ascii_whitespace())
                .is_some_and(|b| matches!(b, b'{' | b'['));
        if json_type && !json_or_prefix(body) {
            Cow::Owned(NOT_JSON.as_bytes().to_vec())
        } else if json_type || looks_json {
            self.json(body)
        } else if essence == "application/x-www-form-urlencoded" {
            self.form(body)
        } else {
            Cow::Borrowed(body)
        }
    }

    /// A query string with credential parameters' values replaced by `<redacted>`
    /// percent-encoded (`%3Credacted%3E`: the query stays a valid URI part).
    pub fn query<'q>(&self, query: &'q str) -> Cow<'q, str> {
        match self.pairs(query.as_bytes(), REDACTED_IN_URI.as_bytes()) {
            Cow::Borrowed(_) => Cow::Borrowed(query),
            Cow::Owned(bytes) => Cow::Owned(String::from_utf8_lossy(&bytes).into_owned()),
        }
    }

    fn form<'b>(&self, body: &'b [u8]) -> Cow<'b, [u8]> {
        self.pairs(body, REDACTED.as_bytes())
    }

    /// `name=value&…` with the redacted names' values replaced by `replacement`.
    fn pairs<'b>(&self, body: &'b [u8], replacement: &[u8]) -> Cow<'b, [u8]> {
        let mut out = Vec::with_capacity(body.len());
        let mut changed = false;
        for (i, pair) in body.split(|&b| b == b'&').enumerate() {
            if i > 0 {
                out.push(b'&');
            }
            let (key, _) = match pair.iter().position(|&b| b == b'=') {
                Some(eq) => (&pair[..eq], &pair[eq..]),
                None => (pair, &pair[pair.len()..]),
            };
            if self.redacts(&form_decode(key)) {
                out.extend_from_slice(key);
                out.push(b'=');
                out.extend_from_slice(replacement);
                changed = true;
            } else {
                out.extend_from_slice(pair);
            }
        }
        if changed {
            Cow::Owned(out)
        } else {
            Cow::Borrowed(body)
        }
    }

    /// A scanner, not a parser: strings are skipped whole; a string followed by `:` is a key;
    /// the value after a redacted key (a string, a scalar, or a whole object or array) becomes
    /// `"<redacted>"`.
    fn json<'b>(&self, body: &'b [u8]) -> Cow<'b, [u8]> {
        let mut out: Option<Vec<u8>> = None;
        let mut copied = 0;
        let mut i = 0;
        while i < body.len() {
            if body[i] != b'"' {
                i += 1;
                continue;
            }
            let end = string_end(body, i);
            let Some(end) = end else { break };
            let after = skip_space(body, end + 1);
            let is_key = body.get(after) == Some(&b':');
            let key: Option<String> = serde_json::from_slice(&body[i..=end]).ok();
            if !(is_key && key.is_some_and(|k| self.redacts(&k))) {
                i = end + 1;
                continue;
            }
            let value = skip_space(body, after + 1);
            let value_end = value_end(body, value);
            let buf = out.get_or_insert_with(|| Vec::with_capacity(body.len()));
            buf.extend_from_slice(&body[copied..value]);
            buf.push(b'"');
            buf.extend_from_slice(REDACTED.as_bytes());
            buf.push(b'"');
            copied = value_end;
            i = value_end;
        }
        match out {
            Some(mut buf) => {
                buf.extend_from_slice(&body[copied.min(body.len())..]);
                Cow::Owned(buf)
            }
            None => Cow::Borrowed(body),
        }
    }
}

/// Whether `body` is one JSON value, or a prefix of one (a capture cut short).
fn json_or_prefix(body: &[u8]) -> bool {
    match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
        Ok(_) => true,
        Err(e) => e.classify() == serde_json::error::Category::Eof,
    }
}

fn normalise(name: &str) -> String {
    name.trim().to_ascii_lowercase().replace('-', "_")
}

/// Index of the quote closing the string opened at `start`, if the body has it.
fn string_end(body: &[u8], start: usize) -> Option<usize> {
    let mut j = start + 1;
    while j < body.len() {
        match body[j] {
            b'\\' => j += 2,
            b'"' => return Some(j),
            _ => j += 1,
        }
    }
    None
}

fn skip_space(body: &[u8], mut i: usize) -> usize {
    while body.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
        i += 1;
    }
    i
}

/// Where the JSON value starting at `start` ends (exclusive); the body's end if it is cut.
fn value_end(body: &[u8], start: usize) -> usize {
    match body.get(start) {
        None => body.len(),
        Some(b'"') => string_end(body, start).map_or(body.len(), |e| e + 1),
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            let mut j = start;
            while j < body.len() {
                match body[j] {
                    b'"' => match string_end(body, j) {
                        Some(e) => j = e,
                        None => return body.len(),
                    },
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return j + 1;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            body.len()
        }
        Some(_) => body[start..]
            .iter()
            .position(|&b| matches!(b, b',' | b'}' | b']') || b.is_ascii_whitespace())
            .map_or(body.len(), |n| start + n),
    }
}

/// A form key as the app reads it: `+` is a space, `%XX` a byte.
fn form_decode(raw: &[u8]) -> String {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < raw.len() => {
                let hex = std::str::from_utf8(&raw[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests;
