//! `check` on a local mesh: each check's verdict and hint from scripted states.

use super::*;

fn instance(name: &str) -> InstanceFacts {
    InstanceFacts {
        name: name.into(),
        app: "127.0.0.1:9".into(),
        app_up: true,
        serves: true,
        proxy_ready: true,
        connected: Some(true),
        acked_version: 3,
        last_error: String::new(),
        app_problems: Vec::new(),
    }
}

fn worst(outcomes: &[(&str, Outcome)]) -> Severity {
    outcomes
        .iter()
        .map(|(_, o)| o.status)
        .max()
        .unwrap_or(Severity::Ok)
}

#[test]
fn no_mesh_is_an_error_with_a_hint_not_a_pass() {
    let out = run(&MeshFacts::NotRunning {
        state_dir: "/w/.meshctl".into(),
    });
    assert_eq!(out.len(), 1);
    let (id, o) = &out[0];
    assert_eq!(*id, "control-plane.running");
    assert_eq!(o.status, Severity::Error);
    assert_eq!(o.detail, "no mesh is running from /w/.meshctl");
    assert!(o.hint.contains("meshctl up"), "{}", o.hint);
}

#[test]
fn a_healthy_mesh_passes_every_category() {
    let facts = MeshFacts::Running {
        config_version: 3,
        instances: vec![instance("web"), instance("api.v1")],
    };
    let out = run(&facts);
    let ids: Vec<&str> = out.iter().map(|(id, _)| *id).collect();
    assert_eq!(
        ids,
        [
            "control-plane.running",
            "control-plane.answers",
            "proxies.ready",
            "proxies.connected",
            "proxies.config-current",
            "apps.up",
            "apps.protocol"
        ]
    );
    assert_eq!(worst(&out), Severity::Ok);
    assert!(out.iter().all(|(_, o)| o.hint.is_empty()));
}

#[test]
fn each_broken_part_is_named() {
    let mut stale = instance("api.v2");
    stale.acked_version = 2;
    let mut refused = instance("quotes");
    refused.acked_version = 1;
    refused.last_error = "unknown version v9".into();
    let mut down = instance("web");
    down.app_up = false;
    down.proxy_ready = false;
    let mut client = instance("load");
    client.app_up = false;
    client.serves = false;
    let mut grpc = instance("greeter");
    grpc.app_problems =
        vec!["http1 failed 3 times, last 2s ago: an HTTP/1.1 exchange with the app failed".into()];
    let out = run(&MeshFacts::Running {
        config_version: 3,
        instances: vec![stale, refused, down, client, grpc],
    });
    let detail = |id: &str| {
        let (_, o) = out.iter().find(|(i, _)| *i == id).unwrap();
        (o.status, o.detail.clone())
    };
    assert_eq!(
        detail("proxies.config-current"),
        (
            Severity::Error,
            "api.v2 (at 2 of 3), quotes (refused: unknown version v9)".into()
        )
    );
    assert_eq!(detail("proxies.ready"), (Severity::Error, "web".into()));
    // A pure client that listens nowhere is fine.
    assert_eq!(
        detail("apps.up"),
        (Severity::Error, "web (127.0.0.1:9)".into())
    );
    assert_eq!(detail("proxies.connected").0, Severity::Ok);
    assert_eq!(
            detail("apps.protocol"),
            (
                Severity::Error,
                "greeter (127.0.0.1:9): http1 failed 3 times, last 2s ago: an HTTP/1.1 exchange with the app failed".into()
            )
        );
}

#[test]
fn an_unanswering_control_plane_fails_what_it_would_tell() {
    let mut i = instance("web");
    i.connected = None;
    let out = run(&MeshFacts::Unanswered {
        error: "did not answer within 5s".into(),
        instances: vec![i],
    });
    let status = |id: &str| out.iter().find(|(i, _)| *i == id).unwrap().1.status;
    assert_eq!(status("control-plane.running"), Severity::Ok);
    assert_eq!(status("control-plane.answers"), Severity::Error);
    assert_eq!(status("proxies.connected"), Severity::Error);
    assert_eq!(status("proxies.ready"), Severity::Ok);
}
