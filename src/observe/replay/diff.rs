//! `replay --diff`: two answers to the same request compared — status, headers (less those
//! that differ per request anyway), bodies (JSON-equal when both are JSON, less ignored
//! fields; else byte for byte).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use super::{Answer, Outcome};

/// Response headers not compared unless asked: they differ per request or per process.
pub const DEFAULT_IGNORED_HEADERS: &[&str] = &[
    "date",
    "x-request-id",
    "traceparent",
    "tracestate",
    "server-timing",
    "age",
    "expires",
    "last-modified",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
];
/// The most field differences reported per JSON body (the count says how many more).
pub const MAX_FIELD_DIFFERENCES: usize = 20;
/// How much of a body a byte difference shows.
const PREVIEW_CHARS: usize = 80;

/// One way two answers differ. `what`: `status`, `header`, `body` or `error`; `name`: the
/// header, or the JSON pointer of a body field (`/version`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    pub what: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The `--to` side, as text (JSON values as JSON); empty: absent.
    pub to: String,
    /// The `--diff` side.
    pub diff: String,
}

/// What is compared.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Comparison {
    ignored_headers: BTreeSet<String>,
    /// JSON pointers (`/price_cents`, `/items/0/id`).
    ignored_fields: Vec<String>,
}

impl Comparison {
    /// The default ignored headers plus `headers`, and the JSON `fields` (pointers, each
    /// starting with `/`: `Err` names one that does not).
    pub fn new(headers: &[String], fields: &[String]) -> Result<Self, String> {
        if let Some(bad) = fields.iter().find(|f| !f.starts_with('/')) {
            return Err(format!(
                "--ignore-field `{bad}`: expected a JSON pointer like /price_cents"
            ));
        }
        let ignored_headers = (DEFAULT_IGNORED_HEADERS.iter().map(|h| h.to_string()))
            .chain(headers.iter().map(|h| h.to_ascii_lowercase()))
            .collect();
        Ok(Comparison {
            ignored_headers,
            ignored_fields: fields.to_vec(),
        })
    }

    pub fn ignored_headers(&self) -> Vec<String> {
        self.ignored_headers.iter().cloned().collect()
    }

    pub fn ignored_fields(&self) -> Vec<String> {
        self.ignored_fields.clone()
    }

    /// How `to` and `diff` differ (nothing: the same).
    pub fn compare(&self, to: &Outcome, diff: &Outcome) -> Vec<Difference> {
        match (to, diff) {
            (Ok(a), Ok(b)) => {
                let mut out = Vec::new();
                if a.status != b.status {
                    out.push(Difference {
                        what: "status",
                        name: None,
                        to: a.status.to_string(),
                        diff: b.status.to_string(),
                    });
                }
                out.extend(self.headers(a, b));
                out.extend(self.bodies(a, b));
                out
            }
            (Err(a), Err(b)) if a == b => Vec::new(),
            (a, b) => vec![Difference {
                what: "error",
                name: None,
                to: a.as_ref().err().cloned().unwrap_or_default(),
                diff: b.as_ref().err().cloned().unwrap_or_default(),
            }],
        }
    }

    fn headers(&self, a: &Answer, b: &Answer) -> Vec<Difference> {
        let (ha, hb) = (self.compared_headers(a), self.compared_headers(b));
        let names: BTreeSet<&str> = ha.keys().chain(hb.keys()).copied().collect();
        names
            .into_iter()
            .filter_map(|name| {
                let va = ha.get(name).map(|v| v.join(", ")).unwrap_or_default();
                let vb = hb.get(name).map(|v| v.join(", ")).unwrap_or_default();
                (va != vb).then(|| Difference {
                    what: "header",
                    name: Some(name.to_string()),
                    to: va,
                    diff: vb,
                })
            })
            .collect()
    }

    /// The headers compared, each name's values in order.
    fn compared_headers<'a>(&self, ans: &'a Answer) -> BTreeMap<&'a str, Vec<&'a str>> {
        let mut m: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (n, v) in &ans.headers {
            if !self.ignored_headers.contains(n) {
                m.entry(n.as_str()).or_default().push(v.as_str());
            }
        }
        m
    }

    fn bodies(&self, a: &Answer, b: &Answer) -> Vec<Difference> {
        if a.body == b.body {
            return Vec::new();
        }
        let json = |bytes: &[u8]| serde_json::from_slice::<Value>(bytes).ok();
        if let (Some(mut ja), Some(mut jb)) = (json(&a.body), json(&b.body)) {
            for pointer in &self.ignored_fields {
                remove(&mut ja, pointer);
                remove(&mut jb, pointer);
            }
            let mut out = Vec::new();
            let mut more = 0;
            fields("", &ja, &jb, &mut out, &mut more);
            if more > 0 {
                out.push(Difference {
                    what: "body",
                    name: None,
                    to: format!("… {more} more differing fields"),
                    diff: String::new(),
                });
            }
            return out;
        }
        vec![Difference {
            what: "body",
            name: None,
            to: preview(&a.body),
            diff: preview(&b.body),
        }]
    }
}

/// Collects the JSON pointers where `a` and `b` differ (objects field by field, arrays of
/// the same length item by item, anything else whole).
fn fields(at: &str, a: &Value, b: &Value, out: &mut Vec<Difference>, more: &mut usize) {
    match (a, b) {
        _ if a == b => {}
        (Value::Object(ma), Value::Object(mb)) => {
            let keys: BTreeSet<&String> = ma.keys().chain(mb.keys()).collect();
            for k in keys {
                let path = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                let (va, vb) = (ma.get(k), mb.get(k));
                match (va, vb) {
                    (Some(va), Some(vb)) => fields(&path, va, vb, out, more),
                    _ => push(out, more, path, va, vb),
                }
            }
        }
        (Value::Array(la), Value::Array(lb)) if la.len() == lb.len() => {
            for (i, (va, vb)) in la.iter().zip(lb).enumerate() {
                fields(&format!("{at}/{i}"), va, vb, out, more);
            }
        }
        _ => push(out, more, at.to_string(), Some(a), Some(b)),
    }
}

fn push(
    out: &mut Vec<Difference>,
    more: &mut usize,
    path: String,
    a: Option<&Value>,
    b: Option<&Value>,
) {
    if out.len() >= MAX_FIELD_DIFFERENCES {
        *more += 1;
        return;
    }
    let text = |v: Option<&Value>| v.map(Value::to_string).unwrap_or_default();
    out.push(Difference {
        what: "body",
        name: Some(if path.is_empty() {
            "/".to_string()
        } else {
            path
        }),
        to: text(a),
        diff: text(b),
    });
}

/// Removes the field at `pointer` (nothing when there is none).
fn remove(v: &mut Value, pointer: &str) {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return;
    };
    let last = last.replace("~1", "/").replace("~0", "~");
    match v.pointer_mut(parent) {
        Some(Value::Object(m)) => {
            m.remove(&last);
        }
        Some(Value::Array(items)) => {
            if let Ok(i) = last.parse::<usize>()
                && i < items.len()
            {
                items.remove(i);
            }
        }
        _ => {}
    }
}

/// A body as a short line: its size and its first characters (lossy UTF-8).
fn preview(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut shown: String = text.chars().take(PREVIEW_CHARS).collect();
    if shown.len() < text.len() {
        shown.push('…');
    }
    format!("{} bytes: {shown:?}", body.len())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bytes::Bytes;

    use super::*;

    fn answer(status: u16, headers: &[(&str, &str)], body: &str) -> Outcome {
        Ok(Answer {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: Bytes::from(body.to_string()),
            elapsed: Duration::from_millis(3),
        })
    }

    #[test]
    fn per_request_headers_are_ignored_and_others_compared() {
        let c = Comparison::new(&["X-Served-At".into()], &[]).unwrap();
        let a = answer(
            200,
            &[("date", "Mon"), ("x-served-at", "1"), ("x-kind", "a")],
            "ok",
        );
        let b = answer(
            200,
            &[("date", "Tue"), ("x-served-at", "2"), ("x-kind", "b")],
            "ok",
        );
        assert_eq!(
            c.compare(&a, &b),
            [Difference {
                what: "header",
                name: Some("x-kind".into()),
                to: "a".into(),
                diff: "b".into()
            }]
        );
        assert_eq!(c.compare(&a, &a), []);
    }

    #[test]
    fn json_bodies_compare_as_json_less_ignored_fields() {
        let c = Comparison::new(&[], &["/price".into(), "/items/0/at".into()]).unwrap();
        let a = answer(
            200,
            &[],
            r#"{"v":"v1","price":1,"items":[{"at":1,"id":"a"}],"same":[1,2]}"#,
        );
        let b = answer(
            200,
            &[],
            r#"{"same":[1,2], "items":[{"id":"a","at":2}],"price":2,"v":"v2","new":null}"#,
        );
        let d = c.compare(&a, &b);
        let names: Vec<_> = d.iter().map(|d| d.name.clone().unwrap()).collect();
        assert_eq!(names, ["/new", "/v"]);
        assert_eq!((d[1].to.as_str(), d[1].diff.as_str()), ("\"v1\"", "\"v2\""));
        assert_eq!(d[0].to, "");
        // Key order and spacing do not matter.
        let a2 = answer(200, &[], r#"{"b":1,"a":[true]}"#);
        let b2 = answer(200, &[], r#"{ "a": [true], "b": 1 }"#);
        assert_eq!(c.compare(&a2, &b2), []);
    }

    #[test]
    fn other_bodies_compare_byte_for_byte_and_status_and_errors_count() {
        let c = Comparison::default();
        let d = c.compare(&answer(200, &[], "hello"), &answer(503, &[], "hellO"));
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].what, "status");
        assert_eq!(d[1].what, "body");
        assert_eq!(d[1].to, "5 bytes: \"hello\"");
        let failed: Outcome = Err("no answer within 30s".into());
        assert_eq!(c.compare(&failed, &failed), []);
        assert_eq!(c.compare(&failed, &answer(200, &[], ""))[0].what, "error");
    }

    #[test]
    fn many_field_differences_are_capped() {
        let a: serde_json::Map<String, Value> = (0..30)
            .map(|i| (format!("k{i:02}"), Value::from(i)))
            .collect();
        let b: serde_json::Map<String, Value> = (0..30)
            .map(|i| (format!("k{i:02}"), Value::from(i + 1)))
            .collect();
        let d = Comparison::default().compare(
            &answer(200, &[], &Value::Object(a).to_string()),
            &answer(200, &[], &Value::Object(b).to_string()),
        );
        assert_eq!(d.len(), MAX_FIELD_DIFFERENCES + 1);
        assert_eq!(d[MAX_FIELD_DIFFERENCES].to, "… 10 more differing fields");
    }

    #[test]
    fn an_ignored_field_must_be_a_pointer() {
        let e = Comparison::new(&[], &["price".into()]).unwrap_err();
        assert!(e.contains("JSON pointer"), "{e}");
    }
}
