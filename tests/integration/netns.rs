//! A network namespace of the test's own, for end-to-end tests whose endpoints must not be
//! loopback addresses (the Kubernetes API refuses those in EndpointSlices): `lo` up with
//! addresses from the benchmarking range 198.18.0.0/15. Processes run inside with
//! `nsenter`; the test's own sockets are opened inside from a thread that joined it; relays
//! carry TCP between the namespace and the host's loopback (the API server, its webhook
//! calls). No packet leaves the machine. Needs root (CAP_SYS_ADMIN); `NetNs::new` says why
//! it could not when it cannot.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct NetNs {
    holder: Child,
    pub path: PathBuf,
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

impl NetNs {
    /// A fresh namespace with `lo` up and `addrs` (e.g. `198.18.0.1`) on it.
    pub fn new(addrs: &[&str]) -> Result<NetNs, String> {
        let holder = Command::new("unshare")
            .args(["--net", "sleep", "3600"])
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("unshare: {e}"))?;
        let mut ns = NetNs {
            path: PathBuf::from(format!("/proc/{}/ns/net", holder.id())),
            holder,
        };
        // unshare replaces itself with sleep once the namespace exists.
        for _ in 0..100 {
            let mine = std::fs::read_link("/proc/self/ns/net").ok();
            if std::fs::read_link(&ns.path)
                .ok()
                .is_some_and(|l| Some(&l) != mine.as_ref())
            {
                break;
            }
            if let Ok(Some(status)) = ns.holder.try_wait() {
                return Err(format!("unshare --net exited: {status} (not root?)"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        ns.ip(&["link", "set", "lo", "up"])?;
        for a in addrs {
            ns.ip(&["addr", "add", &format!("{a}/32"), "dev", "lo"])?;
        }
        Ok(ns)
    }

    fn ip(&self, args: &[&str]) -> Result<(), String> {
        let out = self
            .command("ip")
            .args(args)
            .output()
            .map_err(|e| format!("ip: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "ip {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    /// `program` run inside the namespace.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.arg(format!("--net={}", self.path.display()))
            .arg("--")
            .arg(program);
        cmd
    }

    /// Runs `f` on a thread that joined the namespace: sockets it opens live there (and
    /// keep living there when handed to other threads).
    pub fn run_in<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = self.path.clone();
        std::thread::spawn(move || {
            let file = std::fs::File::open(&path).expect("opening the namespace");
            // SAFETY: setns on a valid namespace fd affects only this thread.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            f()
        })
        .join()
        .expect("namespace thread")
    }

    /// A listener on the namespace's 127.0.0.1 whose connections are carried to `target`
    /// on the host (the API server, for a controller running inside).
    pub fn relay_in(&self, target: SocketAddr) -> SocketAddr {
        let listener = self.run_in(|| TcpListener::bind("127.0.0.1:0").unwrap());
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for inside in listener.incoming().flatten() {
                if let Ok(outside) = TcpStream::connect(target) {
                    pipe(inside, outside);
                }
            }
        });
        addr
    }

    /// A listener on the host's 127.0.0.1 whose connections are carried to `target` inside
    /// the namespace (the API server calling a webhook served inside).
    pub fn relay_out(&self, target: SocketAddr) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let path = self.path.clone();
        std::thread::spawn(move || {
            for outside in listener.incoming().flatten() {
                let path = path.clone();
                std::thread::spawn(move || {
                    let file = std::fs::File::open(&path).unwrap();
                    // SAFETY: as in `run_in`.
                    if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } == 0
                        && let Ok(inside) = TcpStream::connect(target)
                    {
                        pipe(inside, outside);
                    }
                });
            }
        });
        addr
    }
}

/// Copies both ways until either side closes.
fn pipe(a: TcpStream, b: TcpStream) {
    let (mut a2, mut b2) = (a.try_clone().unwrap(), b.try_clone().unwrap());
    let (mut a, mut b) = (a, b);
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut a2, &mut b2);
        let _ = b2.shutdown(std::net::Shutdown::Write);
    });
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut b, &mut a);
        let _ = a.shutdown(std::net::Shutdown::Write);
    });
}

/// One HTTP/1.1 GET (connection closed after it): status and body, or why it failed.
pub fn http_get(
    stream: &mut TcpStream,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<(u16, String), String> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let mut request = format!("GET {path} HTTP/1.1\r\nhost: api\r\nconnection: close\r\n");
    for (n, v) in headers {
        request.push_str(&format!("{n}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&raw);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status line in {text:?}"))?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    Ok((status, body.to_string()))
}
