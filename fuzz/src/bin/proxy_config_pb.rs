//! A ProxyConfig from the control plane, decoded from any bytes: its authorization policy
//! and every upstream's routes are accepted or refused, never with a panic.
use meshctl::api::proto::control as pb;
use meshctl::proxy::inbound::authz::InboundAuthz;
use meshctl::proxy::outbound::rules::RouteRules;
use prost::Message;

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let Ok(cfg) = pb::ProxyConfig::decode(data) else {
            return;
        };
        let _ = InboundAuthz::from_proto(cfg.authorization.as_ref());
        for upstream in &cfg.upstreams {
            let _ = RouteRules::parse(upstream);
        }
    });
}
