//! Request-path normalisation for inbound authorization: the one form a path is matched in,
//! which is also the form forwarded to the app (so what was checked is what the app sees).
//!
//! Steps, in order (RFC 3986 §6.2.2 plus what attacks on path matching need):
//! 1. refuse a raw `\` (some apps treat it as `/`) and any malformed `%` escape;
//! 2. refuse `%2F` and `%5C` (an encoded `/` or `\` would be one segment to us and two to an
//!    app that decodes first);
//! 3. decode escapes of unreserved characters (`A-Z a-z 0-9 - . _ ~`, so `%2e` is `.`) and
//!    upper-case the hex of the others (`%3b` → `%3B`); nothing is decoded twice;
//! 4. collapse empty segments (`//`), drop `.` segments, resolve `..` (never above the root);
//!    a segment that is `.` or `..` before a `;` (`..;x`, read as `..` by servlet containers)
//!    is refused.
//!
//! The query string is not touched.

/// Why a path cannot be normalised; the request is answered 400 and never forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BadPath {
    #[error("the path does not start with `/`")]
    NotAbsolute,
    #[error("the path holds a `\\`")]
    Backslash,
    #[error("the path holds an encoded `/` or `\\` (%2F, %5C)")]
    EncodedSeparator,
    #[error("the path holds a malformed `%` escape")]
    BadEscape,
    #[error("the path holds a dot segment with parameters (`..;`)")]
    DotParameter,
}

/// The normalised form of `path` (the path only: no query). Allocates only to build the
/// result.
pub fn normalize_path(path: &str) -> Result<String, BadPath> {
    if !path.starts_with('/') {
        return Err(BadPath::NotAbsolute);
    }
    let decoded = decode_unreserved(path)?;
    let mut segments: Vec<&str> = Vec::new();
    let mut raw = decoded[1..].split('/').peekable();
    // Whether the result ends with `/`: a trailing empty, `.` or `..` segment.
    let mut trailing_slash = false;
    while let Some(segment) = raw.next() {
        let last = raw.peek().is_none();
        match segment {
            "" | "." => trailing_slash = last,
            ".." => {
                segments.pop();
                trailing_slash = last;
            }
            s => {
                let before_params = s.split(';').next().unwrap_or(s);
                if s.contains(';') && (before_params == "." || before_params == "..") {
                    return Err(BadPath::DotParameter);
                }
                segments.push(s);
                trailing_slash = false;
            }
        }
    }
    let mut out = String::with_capacity(decoded.len());
    for s in &segments {
        out.push('/');
        out.push_str(s);
    }
    if segments.is_empty() || trailing_slash {
        out.push('/');
    }
    Ok(out)
}

/// Step 1-3: refuses backslashes, bad escapes and encoded separators; decodes unreserved
/// characters and upper-cases the hex digits of every escape kept.
fn decode_unreserved(path: &str) -> Result<String, BadPath> {
    let bytes = path.as_bytes();
    // Bytes, not chars: a non-ASCII character is copied as its UTF-8 bytes, unchanged.
    let mut out = Vec::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => return Err(BadPath::Backslash),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).ok_or(BadPath::BadEscape)?;
                let value = hex_value(hex[0])
                    .zip(hex_value(hex[1]))
                    .map(|(hi, lo)| hi << 4 | lo)
                    .ok_or(BadPath::BadEscape)?;
                match value {
                    b'/' | b'\\' => return Err(BadPath::EncodedSeparator),
                    v if is_unreserved(v) => out.push(v),
                    v => {
                        out.push(b'%');
                        out.extend_from_slice(format!("{v:02X}").as_bytes());
                    }
                }
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    // Only ASCII was decoded or replaced, and only whole escapes: every other byte is the
    // input's, so the output is the input's UTF-8 still.
    String::from_utf8(out).map_err(|_| BadPath::BadEscape)
}

fn hex_value(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// A query or form value percent-decoded (`+` is a space); `None` for a malformed escape or
/// bytes that are not UTF-8.
pub fn decode_form_value(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_normalise_to_one_form() {
        let cases = [
            ("/", "/"),
            ("/a", "/a"),
            ("/a/", "/a/"),
            ("//x", "/x"),
            ("/a//b///c", "/a/b/c"),
            ("/a/../x", "/x"),
            ("/a/./b/.", "/a/b/"),
            ("/a/b/..", "/a/"),
            ("/..", "/"),
            ("/../../x", "/x"),
            ("/a/%2e%2e/x", "/x"),
            ("/a/%2E%2e/x", "/x"),
            ("/a/.%2e/x", "/x"),
            ("/%2e/x", "/x"),
            ("/%61dmin", "/admin"),
            ("/a%7eb", "/a~b"),
            ("/a%3bb", "/a%3Bb"),
            ("/a%25%32%66", "/a%252f"),
            ("/a;b/c", "/a;b/c"),
            ("/...", "/..."),
            ("/a/..b", "/a/..b"),
        ];
        for (raw, want) in cases {
            assert_eq!(normalize_path(raw).as_deref(), Ok(want), "{raw}");
            // Normalising twice changes nothing.
            assert_eq!(normalize_path(want).as_deref(), Ok(want), "{want} again");
        }
    }

    /// Found by the `normalize_path_properties` fuzz target: bytes above 0x7F were pushed as
    /// Latin-1 chars (`/é` became `/Ã©`), so the path changed on every pass.
    #[test]
    fn non_ascii_bytes_are_kept_as_they_are() {
        for (raw, want) in [("/é", "/é"), ("/caf%C3%A9/ü/../x", "/caf%C3%A9/x")] {
            assert_eq!(normalize_path(raw).as_deref(), Ok(want), "{raw}");
            assert_eq!(normalize_path(want).as_deref(), Ok(want), "{want} again");
        }
    }

    #[test]
    fn ambiguous_paths_are_refused() {
        let cases = [
            ("/a%2Fb", BadPath::EncodedSeparator),
            ("/a%2fb", BadPath::EncodedSeparator),
            ("/a%5Cb", BadPath::EncodedSeparator),
            ("/a%5cb", BadPath::EncodedSeparator),
            ("/a\\b", BadPath::Backslash),
            ("/a%zz", BadPath::BadEscape),
            ("/a%2", BadPath::BadEscape),
            ("/a%", BadPath::BadEscape),
            ("/public/..;/admin", BadPath::DotParameter),
            ("/public/%2e%2e;x/admin", BadPath::DotParameter),
            ("/.;/admin", BadPath::DotParameter),
            ("*", BadPath::NotAbsolute),
            ("", BadPath::NotAbsolute),
        ];
        for (raw, want) in cases {
            assert_eq!(normalize_path(raw), Err(want), "{raw}");
        }
    }
}
