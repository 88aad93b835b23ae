//! OTLP spans encoded by hand, straight into one buffer per span, and sent pre-encoded.
//!
//! Building the prost message tree for a span cost ~10 allocations, their frees and several
//! length passes over nested messages: about 19 000 instructions per request per proxy, a
//! third of the whole data path (bench/RESULTS.md). The bytes are the same: field numbers and
//! wire types follow `proto/otlp_trace.proto`, and the tests decode the output with the prost
//! types generated from it.

use bytes::BufMut;
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

use crate::api::proto::otlp as pb;

const VARINT: u32 = 0;
const FIXED64: u32 = 1;
const LEN: u32 = 2;
const FIXED32: u32 = 5;

/// The gRPC method every export calls.
pub const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

pub fn varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

fn tag(buf: &mut Vec<u8>, field: u32, wire: u32) {
    varint(buf, u64::from(field << 3 | wire));
}

/// Bytes on the wire of a length-delimited field carrying `len` bytes.
fn field_len(field: u32, len: usize) -> usize {
    varint_len(u64::from(field << 3 | LEN)) + varint_len(len as u64) + len
}

/// A `bytes`, `string` or already-encoded message field.
pub fn bytes(buf: &mut Vec<u8>, field: u32, data: &[u8]) {
    tag(buf, field, LEN);
    varint(buf, data.len() as u64);
    buf.extend_from_slice(data);
}

/// A `uint32`/`uint64`/enum field.
pub fn uint(buf: &mut Vec<u8>, field: u32, v: u64) {
    tag(buf, field, VARINT);
    varint(buf, v);
}

pub fn fixed64(buf: &mut Vec<u8>, field: u32, v: u64) {
    tag(buf, field, FIXED64);
    buf.extend_from_slice(&v.to_le_bytes());
}

pub fn fixed32(buf: &mut Vec<u8>, field: u32, v: u32) {
    tag(buf, field, FIXED32);
    buf.extend_from_slice(&v.to_le_bytes());
}

/// An attribute value: `AnyValue.string_value` (1) or `AnyValue.int_value` (3).
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    Str(&'a str),
    Int(i64),
}

/// A `KeyValue` in repeated field `field` (`Span.attributes` = 9, `Resource.attributes` = 1).
pub fn attribute(buf: &mut Vec<u8>, field: u32, key: &str, value: Value<'_>) {
    let any_len = match value {
        Value::Str(s) => field_len(1, s.len()),
        Value::Int(i) => 1 + varint_len(i as u64),
    };
    tag(buf, field, LEN);
    varint(
        buf,
        (field_len(1, key.len()) + field_len(2, any_len)) as u64,
    );
    bytes(buf, 1, key.as_bytes());
    tag(buf, 2, LEN);
    varint(buf, any_len as u64);
    match value {
        Value::Str(s) => bytes(buf, 1, s.as_bytes()),
        // int64 is a varint of the two's complement.
        Value::Int(i) => uint(buf, 3, i as u64),
    }
}

/// `Span.status` (15): `Status { message = 2, code = 3 }`.
pub fn status(buf: &mut Vec<u8>, message: &str, code: u64) {
    let message_len = if message.is_empty() {
        0
    } else {
        field_len(2, message.len())
    };
    tag(buf, 15, LEN);
    varint(buf, (message_len + 1 + varint_len(code)) as u64);
    if !message.is_empty() {
        bytes(buf, 2, message.as_bytes());
    }
    uint(buf, 3, code);
}

/// `ExportTraceServiceRequest { resource_spans = [ { resource, scope_spans = [ { scope,
/// spans } ] } ] }` around an encoded `Resource`, `InstrumentationScope` and `Span`s.
pub fn export_request(resource: &[u8], scope: &[u8], spans: &[Vec<u8>]) -> Vec<u8> {
    let scope_spans_len =
        field_len(1, scope.len()) + spans.iter().map(|s| field_len(2, s.len())).sum::<usize>();
    let resource_spans_len = field_len(1, resource.len()) + field_len(2, scope_spans_len);
    let mut buf = Vec::with_capacity(field_len(1, resource_spans_len));
    tag(&mut buf, 1, LEN);
    varint(&mut buf, resource_spans_len as u64);
    bytes(&mut buf, 1, resource);
    tag(&mut buf, 2, LEN);
    varint(&mut buf, scope_spans_len as u64);
    bytes(&mut buf, 1, scope);
    for span in spans {
        bytes(&mut buf, 2, span);
    }
    buf
}

/// IPv4 addresses in dotted decimal without the formatting machinery (1 400 instructions a
/// call under callgrind); IPv6 through `Display`.
pub fn ip_text(ip: std::net::IpAddr, out: &mut String) {
    match ip {
        std::net::IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                if octet >= 100 {
                    out.push(char::from(b'0' + octet / 100));
                }
                if octet >= 10 {
                    out.push(char::from(b'0' + octet / 10 % 10));
                }
                out.push(char::from(b'0' + octet % 10));
            }
        }
        std::net::IpAddr::V6(v6) => out.push_str(&v6.to_string()),
    }
}

/// Sends a pre-encoded request and decodes the standard response.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExportCodec;

#[derive(Debug)]
pub struct RawEncoder;

#[derive(Debug)]
pub struct ResponseDecoder;

impl Codec for ExportCodec {
    type Encode = Vec<u8>;
    type Decode = pb::ExportTraceServiceResponse;
    type Encoder = RawEncoder;
    type Decoder = ResponseDecoder;

    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }

    fn decoder(&mut self) -> ResponseDecoder {
        ResponseDecoder
    }
}

impl Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for ResponseDecoder {
    type Item = pb::ExportTraceServiceResponse;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Status> {
        prost::Message::decode(src)
            .map(Some)
            .map_err(|e| Status::internal(format!("decoding the export response: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use prost::Message as _;

    use super::*;

    #[test]
    fn varints_and_attributes_decode_with_the_generated_types() {
        for v in [0, 1, 127, 128, 300, 16_383, 16_384, u64::MAX] {
            let mut buf = Vec::new();
            varint(&mut buf, v);
            assert_eq!(buf.len(), varint_len(v), "{v}");
        }
        let mut buf = Vec::new();
        attribute(&mut buf, 1, "service.name", Value::Str("api"));
        attribute(&mut buf, 1, "n", Value::Int(-2));
        attribute(&mut buf, 1, &"k".repeat(200), Value::Str(&"v".repeat(300)));
        let resource = pb::Resource::decode(buf.as_slice()).unwrap();
        let values: Vec<_> = resource
            .attributes
            .iter()
            .map(|kv| (kv.key.len(), kv.value.clone().unwrap().value.unwrap()))
            .collect();
        use pb::any_value::Value as V;
        assert_eq!(
            values,
            [
                (12, V::StringValue("api".into())),
                (1, V::IntValue(-2)),
                (200, V::StringValue("v".repeat(300))),
            ]
        );
    }

    #[test]
    fn an_export_request_wraps_resource_scope_and_spans() {
        let mut resource = Vec::new();
        attribute(&mut resource, 1, "service.name", Value::Str("web"));
        let mut scope = Vec::new();
        bytes(&mut scope, 1, b"meshctl-proxy");
        let spans: Vec<Vec<u8>> = (0..3u8)
            .map(|i| {
                let mut span = Vec::new();
                bytes(&mut span, 2, &[i; 8]);
                status(&mut span, if i == 0 { "" } else { "no endpoint" }, 2);
                fixed32(&mut span, 16, 0x301);
                fixed64(&mut span, 7, 1_700_000_000_000_000_000);
                span
            })
            .collect();
        let request = pb::ExportTraceServiceRequest::decode(
            export_request(&resource, &scope, &spans).as_slice(),
        )
        .unwrap();
        let rs = &request.resource_spans[0];
        assert_eq!(
            rs.resource.as_ref().unwrap().attributes[0].key,
            "service.name"
        );
        let ss = &rs.scope_spans[0];
        assert_eq!(ss.scope.as_ref().unwrap().name, "meshctl-proxy");
        assert_eq!(ss.spans.len(), 3);
        assert_eq!(ss.spans[2].span_id, vec![2; 8]);
        assert_eq!(ss.spans[1].status.as_ref().unwrap().message, "no endpoint");
        assert_eq!(ss.spans[0].status.as_ref().unwrap().code, 2);
        assert_eq!(ss.spans[0].flags, 0x301);
        assert_eq!(ss.spans[0].start_time_unix_nano, 1_700_000_000_000_000_000);
    }

    #[test]
    fn ip_addresses_print_as_display_does() {
        for ip in [
            "127.0.0.1",
            "10.200.0.99",
            "255.255.255.255",
            "0.0.0.0",
            "::1",
            "fe80::1",
        ] {
            let ip: std::net::IpAddr = ip.parse().unwrap();
            let mut out = String::new();
            ip_text(ip, &mut out);
            assert_eq!(out, ip.to_string());
        }
    }
}
