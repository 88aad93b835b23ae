//! The local mesh's port plan: a fixed admin port stays its proxy's; planned ports are
//! distinct, held until released, and bindable by the listeners.

use std::io::{Read, Write};

use super::*;

fn mesh() -> MeshFile {
    let yaml = "services:\n  web:\n    port: 8080\n    upstreams: [api]\n  api:\n    port: 8081\n";
    MeshFile::parse(yaml, Path::new("mesh.yaml")).unwrap()
}

fn planned_ports(plan: &MeshPlan) -> Vec<SocketAddr> {
    plan.proxies
        .iter()
        .flat_map(|p| {
            [p.inbound, p.admin, p.http_proxy, p.tap]
                .into_iter()
                .chain(p.upstreams.iter().map(|u| u.listen))
        })
        .collect()
}

/// A socket without `SO_REUSEADDR`, as any other program's would be, bound to `addr`.
fn plain_bind(addr: SocketAddr) -> std::io::Result<()> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_reuseaddr(false)?;
    socket.bind(addr)
}

#[test]
fn a_fixed_admin_port_is_the_proxy_s_and_never_allocated_to_another() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let yaml = format!(
        "services:\n  web:\n    port: 8080\n    upstreams: [api]\n    admin_port: {port}\n  api:\n    port: 8081\n"
    );
    let mesh = MeshFile::parse(&yaml, Path::new("mesh.yaml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let prepared = prepare(&mesh, dir.path()).unwrap();
    assert_eq!(prepared.plan.proxies[0].admin, loopback(port));
    let ports = planned_ports(&prepared.plan);
    assert_eq!(
        ports.iter().filter(|a| a.port() == port).count(),
        1,
        "{ports:?}"
    );
    // Taken by something else, it is named before anything starts.
    let _taken = std::net::TcpListener::bind(loopback(port)).unwrap();
    drop(prepared);
    let err = prepare(&mesh, dir.path()).unwrap_err().to_string();
    assert!(err.contains("services.web.admin_port"), "{err}");
}

#[test]
fn planned_ports_are_distinct_held_until_released_and_bindable_by_listeners() {
    let dir = tempfile::tempdir().unwrap();
    let prepared = prepare(&mesh(), dir.path()).unwrap();
    let ports = planned_ports(&prepared.plan);
    assert_eq!(ports.len(), 9, "{ports:?}");
    let distinct: std::collections::HashSet<_> = ports.iter().collect();
    assert_eq!(distinct.len(), ports.len(), "{ports:?}");
    for addr in &ports {
        assert_ne!(addr.port(), 8080);
        assert_ne!(addr.port(), 8081);
        let err = plain_bind(*addr).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse, "{addr}: {err}");
    }

    // The proxy's listener binds a held port and is the one that accepts connections.
    let listener = std::net::TcpListener::bind(ports[0]).unwrap();
    let mut client = std::net::TcpStream::connect(ports[0]).unwrap();
    client.write_all(b"x").unwrap();
    let mut got = [0u8; 1];
    listener.accept().unwrap().0.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"x");
    drop((listener, client));

    prepared.ports.release();
    // (The first port may linger in TIME_WAIT from the connection above.) Released ports
    // are ordinary free ports again: a test running at the same time may take one the
    // moment it is free (a connect() picks its source port from the same range), and a
    // process it forks holds copies of every socket until it execs. So: within 2 s, all
    // but at most one are free.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        let freed = (ports[1..].iter())
            .filter(|addr| match plain_bind(**addr) {
                Ok(()) => true,
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => false,
                Err(e) => panic!("{addr}: {e}"),
            })
            .count();
        if freed >= ports.len() - 2 {
            break;
        }
        let held = ports.len() - 1 - freed;
        assert!(
            std::time::Instant::now() < deadline,
            "{held} ports still held"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn tokens_are_private_files_in_a_fresh_directory_and_a_rerun_replaces_them() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let tokens = dir.path().join(TOKENS_DIR);
    // A previous run's leftovers: a token of an instance no longer planned, and one of
    // the same name with other contents.
    std::fs::create_dir_all(&tokens).unwrap();
    std::fs::write(tokens.join("gone.token"), "old").unwrap();
    std::fs::write(tokens.join("web.token"), "old").unwrap();

    for _ in 0..2 {
        let prepared = prepare(&mesh(), dir.path()).unwrap();
        let files = write_tokens(&prepared, dir.path()).unwrap();
        assert_eq!(files.keys().collect::<Vec<_>>(), ["api", "web"]);
        for (name, path) in &files {
            assert_eq!(path, &tokens.join(format!("{name}.token")));
            assert_eq!(
                std::fs::read_to_string(path).unwrap(),
                prepared.tokens[name]
            );
            assert_eq!(mode(path), 0o600, "{}", path.display());
        }
        let mut left: Vec<String> = std::fs::read_dir(&tokens)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["api.token", "web.token"]);
        assert_eq!(mode(&tokens), 0o700);
        let admin = dir.path().join(ADMIN_TOKEN_FILE);
        assert_eq!(
            std::fs::read_to_string(&admin).unwrap(),
            prepared.admin_token
        );
        assert_eq!(mode(&admin), 0o600);
    }
}

/// How many sockets the calling thread's file table holds.
fn sockets_in_my_table() -> usize {
    std::fs::read_dir("/proc/thread-self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|l| l.to_string_lossy().starts_with("socket:"))
        .count()
}

/// Every process `up` spawns copies the spawning thread's file table: the held ports must
/// not be in it (they were, and made starting N proxies O(N²)), while still held.
#[test]
fn held_ports_stay_out_of_the_file_table_the_spawning_threads_share() {
    let mut yaml = String::from("services:\n  called:\n    port: 19999\n");
    for i in 0..199 {
        yaml.push_str(&format!(
            "  s{i}:\n    port: {}\n    upstreams: [called]\n",
            20_000 + i
        ));
    }
    let mesh = MeshFile::parse(&yaml, Path::new("mesh.yaml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let before = sockets_in_my_table();
    let prepared = prepare(&mesh, dir.path()).unwrap();
    let ports = planned_ports(&prepared.plan);
    assert_eq!(ports.len(), 4 + 199 * 5);
    let grown = sockets_in_my_table().saturating_sub(before);
    // (Other tests of this binary share the table and may open a few sockets meanwhile.)
    assert!(grown < 100, "{grown} more sockets in the shared table");
    for addr in &ports {
        let err = plain_bind(*addr).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse, "{addr}: {err}");
    }
}
