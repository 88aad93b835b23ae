//! The controller's `/stats` of the cluster's sidecars: the query's round trip, the filters,
//! answers and silences.

use super::*;

#[test]
fn the_query_round_trips_and_bad_parameters_are_named() {
    let q = StatsQuery {
        namespace: Some("shop".into()),
        service: Some("api".into()),
        version: Some("v 2/x".into()),
        window: Duration::from_secs(30),
    };
    assert_eq!(StatsQuery::parse(&q.to_query()).unwrap(), q);
    let all = StatsQuery::parse("window=10").unwrap();
    assert_eq!(all.namespace, None);
    assert_eq!(all.window, Duration::from_secs(10));
    for (query, names) in [
        ("", "window: missing"),
        ("window=abc", "window: `abc`"),
        ("window=0", "outside"),
        ("window=7200", "outside"),
        ("window=5&pod=x", "unknown parameter `pod`"),
        ("window=5&service=", "service: empty"),
        ("window=5&service=%zz", "service: bad escape"),
    ] {
        let e = StatsQuery::parse(query).unwrap_err();
        assert!(e.contains(names), "{query}: {e}");
    }
}

fn pod(ns: &str, name: &str, service: Option<&str>, version: &str) -> MeshedPod {
    MeshedPod {
        namespace: ns.into(),
        name: name.into(),
        uid: String::new(),
        service_account: "default".into(),
        spiffe_id: String::new(),
        version: version.into(),
        service: service.map(Into::into),
        upstreams: Ok(Vec::new()),
        live: true,
        ip: Some("198.18.0.9".parse().unwrap()),
    }
}

#[test]
fn the_filters_select_live_pods_of_the_service_and_version() {
    let mut index = Index::default();
    for p in [
        pod("shop", "api-v1-0", Some("api"), "v1"),
        pod("shop", "api-v2-0", Some("api"), "v2"),
        pod("shop", "web-0", Some("web"), ""),
        pod("other", "api-v2-0", Some("api"), "v2"),
        MeshedPod {
            live: false,
            ..pod("shop", "api-v2-old", Some("api"), "v2")
        },
        MeshedPod {
            ip: None,
            ..pod("shop", "api-v2-new", Some("api"), "v2")
        },
    ] {
        index.pods.insert((p.namespace.clone(), p.name.clone()), p);
    }
    let names = |q: &StatsQuery| -> Vec<(String, Option<SocketAddr>)> {
        targets(&index, q, ADMIN_PORT)
            .into_iter()
            .map(|(p, a)| (p.instance(), a))
            .collect()
    };
    let q = StatsQuery {
        namespace: Some("shop".into()),
        service: Some("api".into()),
        version: Some("v2".into()),
        window: Duration::from_secs(5),
    };
    assert_eq!(
        names(&q),
        vec![
            (
                "shop/api-v2-0".to_string(),
                Some("198.18.0.9:4191".parse().unwrap())
            ),
            ("shop/api-v2-new".to_string(), None),
        ]
    );
    let everything = StatsQuery {
        window: Duration::from_secs(5),
        ..StatsQuery::default()
    };
    assert_eq!(names(&everything).len(), 5);
}

#[tokio::test]
async fn answers_and_silences_are_both_reported() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    // Two real listeners on one port of two loopback addresses: one answers /stats,
    // one accepts and never answers; and a pod with no IP yet.
    let talker = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = talker.local_addr().unwrap().port();
    let silent = tokio::net::TcpListener::bind(("127.0.0.2", port))
        .await
        .unwrap();
    let snapshot = StatsSnapshot {
        covered_ms: 5000,
        read_bytes: 42,
        ..StatsSnapshot::default()
    };
    let body = serde_json::to_string(&snapshot).unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let seen_by_server = seen.clone();
    tokio::spawn(async move {
        let (mut stream, _) = talker.accept().await.unwrap();
        let mut buf = vec![0u8; 4096];
        let n = stream.read(&mut buf).await.unwrap();
        *seen_by_server.lock().unwrap() = String::from_utf8_lossy(&buf[..n]).into_owned();
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(answer.as_bytes()).await.unwrap();
    });
    let mut index = Index::default();
    for (name, ip) in [
        ("api-v1-0", Some("127.0.0.1")),
        ("api-v1-1", Some("127.0.0.2")),
        ("api-v1-2", None),
    ] {
        let mut p = pod("shop", name, Some("api"), "v1");
        p.ip = ip.map(|ip| ip.parse().unwrap());
        index.pods.insert(("shop".into(), name.into()), p);
    }
    let client = AdminClient::new(crate::api::admin_http::AdminClientOptions {
        timeout: Duration::from_millis(500),
        ..Default::default()
    })
    .unwrap();
    let query = StatsQuery {
        service: Some("api".into()),
        window: Duration::from_secs(30),
        ..StatsQuery::default()
    };
    let got = collect(&index, &query, &client, port).await;
    drop(silent);
    let by: Vec<(&str, Option<&StatsSnapshot>, Option<&str>)> = got
        .proxies
        .iter()
        .map(|p| (p.instance.as_str(), p.stats.as_ref(), p.error.as_deref()))
        .collect();
    assert_eq!(by[0], ("shop/api-v1-0", Some(&snapshot), None));
    assert!(seen.lock().unwrap().starts_with("GET /stats?window=30 "));
    assert_eq!(by[1].0, "shop/api-v1-1");
    assert!(by[1].1.is_none());
    assert!(
        by[1].2.unwrap_or("").contains(&format!("127.0.0.2:{port}")),
        "{:?}",
        by[1]
    );
    assert_eq!(
        by[2],
        ("shop/api-v1-2", None, Some("no pod IP yet (not running)"))
    );
    let text = serde_json::to_string(&got).unwrap();
    let back: ProxiesStats = serde_json::from_str(&text).unwrap();
    assert_eq!(back, got);
}
