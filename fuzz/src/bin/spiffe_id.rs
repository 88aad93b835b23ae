//! SPIFFE ID parsing: never a panic; what parses prints back to itself.
use meshctl::identity::SpiffeId;

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        if let Ok(id) = text.parse::<SpiffeId>() {
            assert_eq!(id.as_str(), text);
            assert_eq!(id.to_string().parse::<SpiffeId>().ok(), Some(id));
        }
        if let Ok(p) = text.parse::<meshctl::policy::authz::IdPattern>() {
            assert_eq!(
                p.to_string()
                    .parse::<meshctl::policy::authz::IdPattern>()
                    .ok(),
                Some(p.clone())
            );
            p.matches(text);
        }
    });
}
