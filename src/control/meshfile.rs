//! `mesh.yaml`, the local mesh's catalog: its model, parsing, and validation whose errors name
//! `file:line:column` and the field (schema: `docs/mesh-yaml.md`).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use self::policy::RawPolicy;
pub use self::policy::{
    DEFAULT_RETRY_ATTEMPTS, DEFAULT_RETRY_BACKOFF_MS, DEFAULT_RETRY_ON, HttpRoute, PathMatch,
    Retries, ServicePolicy,
};
use self::yaml_pos::{Position, Target, YamlPath};
use crate::identity::spiffe;
pub use crate::policy::gateway::{GATEWAY_SERVICE, GatewaySpec};
use crate::policy::tracing::{OtlpExport, OtlpHeaders, OtlpProtocol, SampleRate};

mod authz;
mod fault;
mod gateway;
mod mirror;
mod policy;
mod yaml_pos;

/// The catalog's file name, looked for beside `.meshctl/`.
pub const DEFAULT_FILE_NAME: &str = "mesh.yaml";
/// Trust domain of a mesh whose `mesh.yaml` names none.
pub const DEFAULT_TRUST_DOMAIN: &str = spiffe::DEFAULT_TRUST_DOMAIN;
/// Longest service or version name: one DNS label.
pub const MAX_NAME_LEN: usize = 63;
/// Launched commands find each upstream's local listener in `MESH_UPSTREAM_<NAME>=host:port`.
pub const UPSTREAM_ENV_PREFIX: &str = "MESH_UPSTREAM_";
/// The shell that runs a `command` given as one string.
pub const SHELL: &str = "sh";
/// Most replicas (instances) one service or version may ask for.
pub const MAX_REPLICAS: u32 = 16;
/// Launched commands find their app port here (and in `PORT`, unless `env` sets `PORT`).
pub const PORT_ENV: &str = "MESH_PORT";
/// Launched commands find their replica's index (0-based) here.
pub const REPLICA_ENV: &str = "MESH_REPLICA";
/// Replaced by the app port in every argument of `command` (and in a string command).
pub const PORT_PLACEHOLDER: &str = "{port}";
/// Replaced by the replica's index in `command`, like [`PORT_PLACEHOLDER`].
pub const REPLICA_PLACEHOLDER: &str = "{replica}";

/// A validated `mesh.yaml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeshFile {
    path: PathBuf,
    trust_domain: String,
    services: Vec<Service>,
    instances: Vec<Instance>,
    /// Where every proxy exports its spans, at what rate (`None`: tracing off).
    tracing: Option<Tracing>,
    /// The gateway, when mesh.yaml has one: its files absolute, checked readable (and the
    /// key file private) when the file was parsed. Its proxy is the instance of service
    /// [`GATEWAY_SERVICE`] among `instances`.
    gateway: Option<GatewaySpec>,
}

/// `otlp_endpoint` (with `otlp_protocol`, `otlp_ca_file`, `otlp_headers`) and
/// `trace_sample`: every proxy's tracing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracing {
    /// The CA file, if any, is absolute (relative ones resolve against mesh.yaml's
    /// directory) and was readable PEM when the file was parsed.
    pub export: OtlpExport,
    pub sample: SampleRate,
}

/// One declared service, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub name: String,
    /// `None`: detected from the traffic.
    pub protocol: Option<Protocol>,
    /// Version names in file order; empty for a service without `versions`.
    pub versions: Vec<String>,
    pub upstreams: Vec<Upstream>,
    /// How traffic to this service is handled (`policy`).
    pub policy: ServicePolicy,
}

/// One running unit: a service without versions, or one version of a service — or one
/// replica of either.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub service: String,
    pub version: Option<String>,
    /// The app's port on 127.0.0.1; `None`: allocated by `meshctl up` (replicas).
    pub port: Option<u16>,
    /// This instance's index among its version's (or service's) replicas, from 0.
    pub replica: u32,
    /// Its proxy's admin listener port on 127.0.0.1 (`admin_port`); `None`: allocated.
    pub admin_port: Option<u16>,
    /// Its proxy's worker threads (`proxy_workers`); `None`: the proxy's default (one).
    pub proxy_workers: Option<usize>,
    /// How many replicas the version (or service) has.
    pub replicas: u32,
    /// `None`: detected from the traffic.
    pub protocol: Option<Protocol>,
    /// `None`: the app is started by someone else; meshctl only proxies it.
    pub command: Option<AppCommand>,
    /// The service's `env` overlaid with the version's.
    pub env: BTreeMap<String, String>,
    /// Absolute: `workdir` resolved against the directory of `mesh.yaml` (that directory when
    /// unset).
    pub workdir: PathBuf,
    pub upstreams: Vec<Upstream>,
}

/// A service this one calls; it gets a loopback listener on the caller's proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    pub service: String,
    /// Fixed port of the local listener; `None`: allocated by `meshctl up`.
    pub port: Option<u16>,
}

/// The application protocol a service speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Http,
    Grpc,
    Tcp,
}

/// How to start an app: an argv list, or one string run by `sh -c`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppCommand {
    Argv(Vec<String>),
    Shell(String),
}

/// Why a `mesh.yaml` could not be loaded.
/// The largest mesh.yaml read: a thousand services with policies fit in a tenth of it; a
/// larger file is a mistake (or an attack on the parser) and is refused before it is read.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum MeshFileError {
    #[error("reading {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{}: {size} bytes is more than a mesh file may hold ({max} bytes)",
        path.display(),
        max = MAX_FILE_BYTES
    )]
    TooLarge { path: PathBuf, size: u64 },
    /// Syntax, type, unknown-field or semantic error; `detail` starts with the field's path.
    #[error("{file}:{line}:{column}: {detail}")]
    Invalid {
        file: String,
        line: usize,
        column: usize,
        detail: String,
    },
}

/// The file as written, before semantic checks.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMeshFile {
    trust_domain: Option<String>,
    otlp_endpoint: Option<String>,
    otlp_protocol: Option<String>,
    otlp_ca_file: Option<PathBuf>,
    otlp_headers: Option<OrderedMap<ScalarString>>,
    trace_sample: Option<ScalarString>,
    services: OrderedMap<RawService>,
    /// The mesh's entry for external clients (`meshctl gateway`).
    gateway: Option<GatewaySpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    port: Option<u16>,
    protocol: Option<Protocol>,
    command: Option<AppCommand>,
    env: Option<OrderedMap<ScalarString>>,
    workdir: Option<PathBuf>,
    #[serde(default)]
    upstreams: Vec<RawUpstream>,
    policy: Option<RawPolicy>,
    versions: Option<OrderedMap<RawVersion>>,
    replicas: Option<u32>,
    admin_port: Option<u16>,
    proxy_workers: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVersion {
    port: Option<u16>,
    replicas: Option<u32>,
    admin_port: Option<u16>,
    command: Option<AppCommand>,
    env: Option<OrderedMap<ScalarString>>,
    workdir: Option<PathBuf>,
}

/// An upstream in either form: `api` or `{ service: api, port: 9300 }`.
#[derive(Debug)]
struct RawUpstream {
    service: String,
    port: Option<u16>,
    long_form: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LongUpstream {
    service: String,
    port: Option<u16>,
}

/// A string that YAML may have typed as a number or boolean (`PORT: 8080`, `DEBUG: true`): env
/// values and arguments are strings to the process anyway.
#[derive(Debug)]
struct ScalarString(String);

/// A mapping kept in file order (duplicates are rejected before, by `check_duplicate_keys`).
#[derive(Debug)]
struct OrderedMap<V>(Vec<(String, V)>);

/// One semantic error: where it is and what is wrong.
#[derive(Debug)]
struct Issue {
    path: YamlPath,
    target: Target,
    message: String,
}

/// Checks the raw file and builds the model, stopping at the first issue.
struct Validator<'a> {
    raw: &'a RawMeshFile,
    base_dir: PathBuf,
    /// Every fixed port seen so far, with the path that claimed it.
    ports: HashMap<u16, YamlPath>,
}

impl MeshFile {
    /// Reads and validates the `mesh.yaml` at `path`.
    pub fn load(path: &Path) -> Result<MeshFile, MeshFileError> {
        let read = |source| MeshFileError::Read {
            path: path.to_path_buf(),
            source,
        };
        let size = std::fs::metadata(path).map_err(read)?.len();
        if size > MAX_FILE_BYTES {
            return Err(MeshFileError::TooLarge {
                path: path.to_path_buf(),
                size,
            });
        }
        let text = std::fs::read_to_string(path).map_err(read)?;
        MeshFile::parse(&text, path)
    }

    /// Validates `text` as the content of `path`: `path` names the file in errors, and relative
    /// `workdir`s resolve against its directory.
    pub fn parse(text: &str, path: &Path) -> Result<MeshFile, MeshFileError> {
        let invalid = |e: serde_yaml::Error| yaml_error(path, &e);
        yaml_pos::check_nesting(text).map_err(|(at, detail)| MeshFileError::Invalid {
            file: path.display().to_string(),
            line: at.line,
            column: at.column,
            detail,
        })?;
        yaml_pos::check_duplicate_keys(text).map_err(invalid)?;
        let raw: RawMeshFile = serde_yaml::from_str(text).map_err(invalid)?;
        let base_dir = std::path::absolute(path)
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .unwrap_or_default();
        let mut validator = Validator {
            raw: &raw,
            base_dir,
            ports: HashMap::new(),
        };
        let (trust_domain, services, instances, tracing, gateway) =
            validator.run().map_err(|issue| {
                let at = yaml_pos::locate(text, &issue.path, issue.target)
                    .unwrap_or(Position { line: 1, column: 1 });
                MeshFileError::Invalid {
                    file: path.display().to_string(),
                    line: at.line,
                    column: at.column,
                    detail: format!("{}: {}", issue.path, issue.message),
                }
            })?;
        Ok(MeshFile {
            path: path.to_path_buf(),
            trust_domain,
            services,
            instances,
            tracing,
            gateway,
        })
    }

    /// One service's policy on its own — the value of a key of a Kubernetes policy
    /// ConfigMap — with the schema and checks of a mesh.yaml service's `policy:`, except
    /// that route versions and `{service: NAME}` callers are not declared up front (versions
    /// come and go with pods; a caller is a service account of the namespace). `source`
    /// names the text in errors, whose lines and columns are the text's own.
    pub fn parse_service_policy(
        text: &str,
        source: &str,
        trust_domain: &str,
        tcp: bool,
    ) -> Result<ServicePolicy, MeshFileError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Wrapped {
            policy: policy::RawPolicy,
        }
        let invalid = |line: usize, column: usize, detail: String| MeshFileError::Invalid {
            file: source.to_string(),
            // The text sits one line down and two columns in inside `policy:`.
            line: line.saturating_sub(1).max(1),
            column: column.saturating_sub(2).max(1),
            detail,
        };
        if text.len() as u64 > MAX_FILE_BYTES {
            return Err(MeshFileError::TooLarge {
                path: PathBuf::from(source),
                size: text.len() as u64,
            });
        }
        let body: String = text.lines().map(|l| format!("  {l}\n")).collect();
        let doc = format!("policy:\n{body}");
        let from_serde = |e: serde_yaml::Error| match yaml_error(Path::new(source), &e) {
            MeshFileError::Invalid {
                line,
                column,
                detail,
                ..
            } => invalid(line, column, detail),
            other => other,
        };
        yaml_pos::check_nesting(&doc)
            .map_err(|(at, detail)| invalid(at.line, at.column, detail))?;
        yaml_pos::check_duplicate_keys(&doc).map_err(from_serde)?;
        let raw: Wrapped = serde_yaml::from_str(&doc).map_err(from_serde)?;
        let root = YamlPath::default();
        let checked = policy::service_policy(&root, Some(&raw.policy), None).and_then(|p| {
            authz::check(&root, &p, trust_domain, None)?;
            if tcp {
                no_faults_on_tcp(&root, &p)?;
            }
            Ok(p)
        });
        checked.map_err(|issue| {
            let at = yaml_pos::locate(&doc, &issue.path, issue.target)
                .unwrap_or(Position { line: 2, column: 3 });
            // Paths read `policy.x`: the key of the text is `x`.
            let path = issue.path.to_string();
            let path = path.strip_prefix("policy.").unwrap_or(&path);
            invalid(at.line, at.column, format!("{path}: {}", issue.message))
        })
    }

    /// The file this was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The collector every proxy sends spans to, if tracing is on.
    pub fn tracing(&self) -> Option<&Tracing> {
        self.tracing.as_ref()
    }

    /// The gateway, if mesh.yaml declares one.
    pub fn gateway(&self) -> Option<&GatewaySpec> {
        self.gateway.as_ref()
    }

    /// The mesh's trust domain (`mesh.local` unless set).
    pub fn trust_domain(&self) -> &str {
        &self.trust_domain
    }

    /// The services in file order.
    pub fn services(&self) -> impl Iterator<Item = &Service> {
        self.services.iter()
    }

    /// One entry per running unit (service, or service version), in file order.
    pub fn instances(&self) -> impl Iterator<Item = &Instance> {
        self.instances.iter()
    }
}

impl Instance {
    /// A name unique in the mesh: `web`, or `api.v1` for a version (`.` never appears in
    /// service or version names, so `api-v1` and `api.v1` cannot clash), with `.r<N>` for
    /// each replica when there are several (`web.r0`, `api.v1.r2`); fit for log files.
    pub fn name(&self) -> String {
        let base = match &self.version {
            Some(v) => format!("{}.{v}", self.service),
            None => self.service.clone(),
        };
        if self.replicas > 1 {
            format!("{base}.r{}", self.replica)
        } else {
            base
        }
    }

    /// `command`'s argv with [`PORT_PLACEHOLDER`] and [`REPLICA_PLACEHOLDER`] replaced.
    pub fn argv(&self, port: u16) -> Option<Vec<String>> {
        let argv = self.command.as_ref()?.argv();
        Some(
            argv.into_iter()
                .map(|a| {
                    a.replace(PORT_PLACEHOLDER, &port.to_string())
                        .replace(REPLICA_PLACEHOLDER, &self.replica.to_string())
                })
                .collect(),
        )
    }
}

impl Upstream {
    /// The variable that tells a launched command where this upstream listens:
    /// `MESH_UPSTREAM_QUOTES` for `quotes`, `MESH_UPSTREAM_USER_DB` for `user-db`.
    pub fn env_var(&self) -> String {
        upstream_env_var(&self.service)
    }
}

/// `MESH_UPSTREAM_<NAME>` for a service name (upper case, `-` becomes `_`).
pub fn upstream_env_var(service: &str) -> String {
    format!(
        "{UPSTREAM_ENV_PREFIX}{}",
        service.to_ascii_uppercase().replace('-', "_")
    )
}

impl AppCommand {
    /// The argv to execute: a string command becomes `sh -c <string>`.
    pub fn argv(&self) -> Vec<String> {
        match self {
            AppCommand::Argv(argv) => argv.clone(),
            AppCommand::Shell(line) => vec![SHELL.to_string(), "-c".to_string(), line.clone()],
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            AppCommand::Argv(argv) => argv.first().is_none_or(|a| a.trim().is_empty()),
            AppCommand::Shell(line) => line.trim().is_empty(),
        }
    }
}

/// Faults fail or hold HTTP and gRPC requests and mirroring copies them: a `protocol: tcp`
/// service has none, so a `fault` in its policy (or one of its routes), or a `mirror`, could
/// never act.
fn no_faults_on_tcp(path: &YamlPath, policy: &ServicePolicy) -> Result<(), Issue> {
    let policy_path = path.key("policy");
    // Mirroring copies requests: the same reason holds.
    if policy.mirror.is_some() {
        return Err(Issue::value(
            policy_path.key("mirror"),
            crate::policy::mirror::TCP_MIRROR_REFUSED,
        ));
    }
    let at = if policy.fault.is_some() {
        Some(policy_path.key("fault"))
    } else {
        policy
            .routes
            .iter()
            .position(|r| r.fault.is_some())
            .map(|i| policy_path.key("routes").index(i).key("fault"))
    };
    match at {
        Some(at) => Err(Issue::value(at, crate::policy::fault::TCP_FAULT_REFUSED)),
        None => Ok(()),
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Http => "http",
            Protocol::Grpc => "grpc",
            Protocol::Tcp => "tcp",
        })
    }
}

impl<'a> Validator<'a> {
    #[allow(clippy::type_complexity)] // the parts of a MeshFile, assembled by the caller
    fn run(
        &mut self,
    ) -> Result<
        (
            String,
            Vec<Service>,
            Vec<Instance>,
            Option<Tracing>,
            Option<GatewaySpec>,
        ),
        Issue,
    > {
        let root = YamlPath::default();
        let trust_domain = self.trust_domain(&root)?;
        let tracing = self.tracing(&root)?;
        let services_path = root.key("services");
        if self.raw.services.0.is_empty() {
            return Err(Issue::value(
                services_path,
                "no services: declare at least one",
            ));
        }
        let mut services = Vec::new();
        let mut instances = Vec::new();
        for (name, raw) in &self.raw.services.0 {
            let path = services_path.key(name);
            let (service, mut units) = self.service(&path, name, raw)?;
            services.push(service);
            instances.append(&mut units);
        }
        let gateway = match &self.raw.gateway {
            None => None,
            Some(raw) => {
                let (spec, service, instance) = self.gateway(&root, raw, &services)?;
                services.push(service);
                instances.push(instance);
                Some(spec)
            }
        };
        Ok((trust_domain, services, instances, tracing, gateway))
    }

    fn tracing(&self, root: &YamlPath) -> Result<Option<Tracing>, Issue> {
        let sample = match &self.raw.trace_sample {
            None => SampleRate::ALL,
            Some(raw) => raw
                .0
                .parse()
                .map_err(|m| Issue::value(root.key("trace_sample"), m))?,
        };
        let raw = &self.raw;
        let Some(endpoint) = raw.otlp_endpoint.as_deref() else {
            let given = [
                ("trace_sample", raw.trace_sample.is_some()),
                ("otlp_protocol", raw.otlp_protocol.is_some()),
                ("otlp_ca_file", raw.otlp_ca_file.is_some()),
                ("otlp_headers", raw.otlp_headers.is_some()),
            ];
            if let Some((key, _)) = given.iter().find(|(_, set)| *set) {
                let message = format!("`{key}` needs `otlp_endpoint`, where the spans go");
                return Err(Issue::key(root.key(key), message));
            }
            return Ok(None);
        };
        let endpoint = endpoint
            .parse()
            .map_err(|m| Issue::value(root.key("otlp_endpoint"), m))?;
        let protocol: OtlpProtocol = match &raw.otlp_protocol {
            None => OtlpProtocol::default(),
            Some(p) => p
                .parse()
                .map_err(|m| Issue::value(root.key("otlp_protocol"), m))?,
        };
        let ca_file = match &raw.otlp_ca_file {
            None => None,
            Some(file) => Some(self.ca_file(root, file)?),
        };
        let mut headers = OtlpHeaders::default();
        for (name, value) in raw.otlp_headers.iter().flat_map(|h| &h.0) {
            headers
                .push(name, value.0.as_bytes())
                .map_err(|m| Issue::key(root.key("otlp_headers").key(name), m))?;
        }
        // Which key a combination error belongs to: the CA file when one is written, else
        // the endpoint (a path with gRPC, https without a CA).
        let at = match (&raw.otlp_ca_file, &raw.otlp_protocol) {
            (Some(_), _) => "otlp_ca_file",
            (None, Some(_)) => "otlp_protocol",
            (None, None) => "otlp_endpoint",
        };
        let export = OtlpExport::new(endpoint, protocol, ca_file, headers)
            .map_err(|m| Issue::value(root.key(at), m))?;
        Ok(Some(Tracing { export, sample }))
    }

    /// `otlp_ca_file`, resolved against mesh.yaml's directory, read and checked to hold PEM
    /// certificates now, so a mistake is reported where it is written.
    fn ca_file(&self, root: &YamlPath, file: &Path) -> Result<PathBuf, Issue> {
        let path = self.base_dir.join(file);
        let at = || root.key("otlp_ca_file");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Issue::value(at(), format!("{}: {e}", path.display())))?;
        crate::identity::pem::certs(&text)
            .map_err(|e| Issue::value(at(), format!("{}: {e}", path.display())))?;
        Ok(path)
    }

    fn trust_domain(&self, root: &YamlPath) -> Result<String, Issue> {
        let Some(td) = &self.raw.trust_domain else {
            return Ok(DEFAULT_TRUST_DOMAIN.to_string());
        };
        spiffe::validate_trust_domain(td)
            .map_err(|e| Issue::value(root.key("trust_domain"), e.to_string()))?;
        Ok(td.clone())
    }

    fn service(
        &mut self,
        path: &YamlPath,
        name: &str,
        raw: &RawService,
    ) -> Result<(Service, Vec<Instance>), Issue> {
        check_name(path, "service", name)?;
        let upstreams = self.upstreams(path, name, raw)?;
        let service_env = env(path, raw.env.as_ref())?;
        let service_workdir = self.workdir(path, raw.workdir.as_deref(), &self.base_dir)?;
        let service_replicas = replica_count(path, raw.replicas)?;
        let proxy_workers = proxy_workers(path.key("proxy_workers"), raw.proxy_workers)?;
        let unit = |version: Option<&str>,
                    port,
                    admin_port,
                    replicas: u32,
                    command: Option<&AppCommand>,
                    env: BTreeMap<String, String>,
                    workdir: PathBuf| {
            (0..replicas)
                .map(|replica| Instance {
                    service: name.to_string(),
                    version: version.map(str::to_string),
                    port,
                    replica,
                    admin_port,
                    proxy_workers,
                    replicas,
                    protocol: raw.protocol,
                    command: command.cloned(),
                    env: env.clone(),
                    workdir: workdir.clone(),
                    upstreams: upstreams.clone(),
                })
                .collect::<Vec<_>>()
        };
        let instances = match (&raw.versions, raw.port) {
            (Some(_), Some(_)) => {
                return Err(Issue::key(
                    path.key("versions"),
                    "`port` and `versions` exclude each other: with versions, give each version its own port",
                ));
            }
            (None, port) => {
                let port = self.app_port(
                    path,
                    port,
                    service_replicas,
                    raw.command.as_ref(),
                    (path, name),
                    "no `port`: give the app's port, or `versions` with a port each",
                )?;
                check_command(path, raw.command.as_ref())?;
                let admin_port = self.admin_port(path, raw.admin_port, service_replicas)?;
                unit(
                    None,
                    port,
                    admin_port,
                    service_replicas,
                    raw.command.as_ref(),
                    service_env,
                    service_workdir,
                )
            }
            (Some(versions), None) => {
                let versions_path = path.key("versions");
                if raw.command.is_some() {
                    return Err(Issue::key(
                        path.key("command"),
                        "`command` with `versions`: give each version its own command",
                    ));
                }
                if raw.admin_port.is_some() {
                    return Err(Issue::key(
                        path.key("admin_port"),
                        "`admin_port` with `versions`: each version's proxy needs its own, give it per version",
                    ));
                }
                if versions.0.is_empty() {
                    return Err(Issue::value(
                        versions_path,
                        "no versions: declare at least one, or use `port` instead of `versions`",
                    ));
                }
                let mut units = Vec::new();
                for (version, v) in &versions.0 {
                    let vpath = versions_path.key(version);
                    check_name(&vpath, "version", version)?;
                    let (replicas, declared) = match v.replicas {
                        Some(_) => (replica_count(&vpath, v.replicas)?, &vpath),
                        None => (service_replicas, path),
                    };
                    let port = self.app_port(
                        &vpath,
                        v.port,
                        replicas,
                        v.command.as_ref(),
                        (declared, &format!("{name}.{version}")),
                        "no `port`: give this version's port (or `replicas` above 1 to have one allocated per replica)",
                    )?;
                    check_command(&vpath, v.command.as_ref())?;
                    let admin_port = self.admin_port(&vpath, v.admin_port, replicas)?;
                    let mut merged = service_env.clone();
                    merged.extend(env(&vpath, v.env.as_ref())?);
                    let workdir = self.workdir(&vpath, v.workdir.as_deref(), &service_workdir)?;
                    units.extend(unit(
                        Some(version),
                        port,
                        admin_port,
                        replicas,
                        v.command.as_ref(),
                        merged,
                        workdir,
                    ));
                }
                units
            }
        };
        let fixed = raw.upstreams.iter().position(|u| u.port.is_some());
        if let Some(i) = fixed.filter(|_| instances.len() > 1) {
            return Err(Issue::value(
                upstream_field(path, i, &raw.upstreams[i], "port"),
                format!(
                    "a fixed upstream port cannot be shared by the {} instances (versions or replicas) of `{name}`: drop `port` to have one allocated per instance",
                    instances.len()
                ),
            ));
        }
        let versions: Vec<String> = raw
            .versions
            .iter()
            .flat_map(|v| v.0.iter().map(|(n, _)| n.clone()))
            .collect();
        let policy = policy::service_policy(path, raw.policy.as_ref(), Some(&versions))?;
        let declared: Vec<&str> = self
            .raw
            .services
            .0
            .iter()
            .map(|(s, _)| s.as_str())
            .collect();
        let trust_domain = self.trust_domain(&YamlPath::default())?;
        authz::check(path, &policy, &trust_domain, Some(&declared))?;
        if raw.protocol == Some(Protocol::Tcp) {
            no_faults_on_tcp(path, &policy)?;
        }
        let service = Service {
            name: name.to_string(),
            protocol: raw.protocol,
            versions,
            upstreams,
            policy,
        };
        Ok((service, instances))
    }

    /// The app port of a service or version at `path`: the fixed `port` of a single
    /// instance, or `None` (one allocated per replica) when there are several — which then
    /// need a `command` to be told their port. `declared`: where `replicas` was set, and the
    /// unit's name.
    fn app_port(
        &mut self,
        path: &YamlPath,
        port: Option<u16>,
        replicas: u32,
        command: Option<&AppCommand>,
        declared: (&YamlPath, &str),
        missing: &str,
    ) -> Result<Option<u16>, Issue> {
        match port {
            Some(_) if replicas > 1 => Err(Issue::key(
                path.key("port"),
                format!(
                    "`port` with {replicas} replicas: each replica gets its own port ({PORT_ENV} and `{PORT_PLACEHOLDER}` in `command`); drop `port`"
                ),
            )),
            Some(port) => {
                self.claim_port(path.key("port"), port)?;
                Ok(Some(port))
            }
            None if replicas > 1 && command.is_none() => Err(Issue::value(
                declared.0.key("replicas"),
                format!(
                    "{replicas} replicas of `{}` need a `command`: meshctl starts each replica on its own port",
                    declared.1
                ),
            )),
            None if replicas > 1 => Ok(None),
            None => Err(Issue::key(path.clone(), missing)),
        }
    }

    /// A fixed port for the admin listener of one instance's proxy (one per instance).
    fn admin_port(
        &mut self,
        path: &YamlPath,
        port: Option<u16>,
        replicas: u32,
    ) -> Result<Option<u16>, Issue> {
        match port {
            Some(_) if replicas > 1 => Err(Issue::key(
                path.key("admin_port"),
                format!(
                    "`admin_port` with {replicas} replicas: each replica's proxy needs its own admin port; drop `admin_port` (.meshctl/run/prometheus-targets.json lists the allocated ones)"
                ),
            )),
            Some(port) => {
                self.claim_port(path.key("admin_port"), port)?;
                Ok(Some(port))
            }
            None => Ok(None),
        }
    }

    fn upstreams(
        &mut self,
        path: &YamlPath,
        name: &str,
        raw: &RawService,
    ) -> Result<Vec<Upstream>, Issue> {
        let mut out: Vec<Upstream> = Vec::new();
        for (i, up) in raw.upstreams.iter().enumerate() {
            let service_path = upstream_field(path, i, up, "service");
            if up.service == name {
                return Err(Issue::value(
                    service_path,
                    format!("`{name}` cannot call itself through the mesh"),
                ));
            }
            if !self.raw.services.0.iter().any(|(s, _)| *s == up.service) {
                let known: Vec<&str> = self
                    .raw
                    .services
                    .0
                    .iter()
                    .map(|(s, _)| s.as_str())
                    .collect();
                return Err(Issue::value(
                    service_path,
                    format!(
                        "unknown service `{}` (declared: {})",
                        up.service,
                        known.join(", ")
                    ),
                ));
            }
            if out.iter().any(|u| u.service == up.service) {
                return Err(Issue::value(
                    service_path,
                    format!("`{}` is listed twice", up.service),
                ));
            }
            if let Some(port) = up.port {
                self.claim_port(upstream_field(path, i, up, "port"), port)?;
            }
            out.push(Upstream {
                service: up.service.clone(),
                port: up.port,
            });
        }
        Ok(out)
    }

    /// Records a fixed port; every app port and fixed listener port binds 127.0.0.1, so each
    /// may appear once in the whole file.
    fn claim_port(&mut self, path: YamlPath, port: u16) -> Result<(), Issue> {
        if port == 0 {
            return Err(Issue::value(
                path,
                "port 0 is not a port: give a port from 1 to 65535",
            ));
        }
        if let Some(first) = self.ports.get(&port) {
            return Err(Issue::value(
                path,
                format!("port {port} is already used by {first}"),
            ));
        }
        self.ports.insert(port, path);
        Ok(())
    }

    fn workdir(&self, path: &YamlPath, dir: Option<&Path>, base: &Path) -> Result<PathBuf, Issue> {
        match dir {
            None => Ok(base.to_path_buf()),
            Some(d) if d.as_os_str().is_empty() => Err(Issue::value(
                path.key("workdir"),
                "empty `workdir`: omit it to run in the directory of mesh.yaml",
            )),
            Some(d) => Ok(self.base_dir.join(d)),
        }
    }
}

impl Issue {
    fn key(path: YamlPath, message: impl Into<String>) -> Issue {
        Issue {
            path,
            target: Target::Key,
            message: message.into(),
        }
    }

    fn value(path: YamlPath, message: impl Into<String>) -> Issue {
        Issue {
            path,
            target: Target::Value,
            message: message.into(),
        }
    }
}

/// Service and version names become DNS labels, env var names and SPIFFE ID segments.
fn check_name(path: &YamlPath, what: &str, name: &str) -> Result<(), Issue> {
    let why = if name.is_empty() {
        "it is empty"
    } else if name.len() > MAX_NAME_LEN {
        "it is longer than 63 characters"
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        "only lowercase letters, digits and `-` are allowed"
    } else if name.starts_with('-') || name.ends_with('-') {
        "it must not start or end with `-`"
    } else {
        return Ok(());
    };
    Err(Issue::key(
        path.clone(),
        format!("invalid {what} name `{name}`: {why}"),
    ))
}

/// `proxy_workers`: 1 to [`MAX_PROXY_WORKERS`](crate::policy::traffic::MAX_PROXY_WORKERS).
fn proxy_workers(at: YamlPath, raw: Option<usize>) -> Result<Option<usize>, Issue> {
    const MAX: usize = crate::policy::traffic::MAX_PROXY_WORKERS;
    match raw {
        Some(n) if !(1..=MAX).contains(&n) => Err(Issue::value(
            at,
            format!("{n} worker threads: give 1 to {MAX}"),
        )),
        other => Ok(other),
    }
}

/// `replicas` of the service or version at `path`: 1 to [`MAX_REPLICAS`], default 1.
fn replica_count(path: &YamlPath, raw: Option<u32>) -> Result<u32, Issue> {
    match raw {
        None => Ok(1),
        Some(n) if (1..=MAX_REPLICAS).contains(&n) => Ok(n),
        Some(n) => Err(Issue::value(
            path.key("replicas"),
            format!("{n} replicas: give 1 to {MAX_REPLICAS}"),
        )),
    }
}

fn check_command(path: &YamlPath, command: Option<&AppCommand>) -> Result<(), Issue> {
    match command {
        Some(c) if c.is_empty() => Err(Issue::value(
            path.key("command"),
            "empty command: give the program to run, or omit `command` if the app is started elsewhere",
        )),
        _ => Ok(()),
    }
}

fn env(
    path: &YamlPath,
    env: Option<&OrderedMap<ScalarString>>,
) -> Result<BTreeMap<String, String>, Issue> {
    let mut out = BTreeMap::new();
    for (name, value) in env.iter().flat_map(|e| e.0.iter()) {
        let valid = name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid {
            return Err(Issue::key(
                path.key("env").key(name),
                format!(
                    "invalid environment variable name `{name}`: use letters, digits and `_`, not starting with a digit"
                ),
            ));
        }
        out.insert(name.clone(), value.0.clone());
    }
    Ok(out)
}

/// The path of `service` or `port` of upstream `i`, or the element itself in short form.
fn upstream_field(service: &YamlPath, i: usize, up: &RawUpstream, field: &str) -> YamlPath {
    let element = service.key("upstreams").index(i);
    if up.long_form {
        element.key(field)
    } else {
        element
    }
}

/// `file:line:column: <path>: <message>` from a serde_yaml error: the position leads, so the
/// message loses its own ` at line L column C` (a context position further on stays).
fn yaml_error(path: &Path, e: &serde_yaml::Error) -> MeshFileError {
    let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
    let message = e.to_string();
    let detail = message.replacen(&format!(" at line {line} column {column}"), "", 1);
    MeshFileError::Invalid {
        file: path.display().to_string(),
        line,
        column,
        detail,
    }
}

impl<'de> Deserialize<'de> for AppCommand {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CommandVisitor;
        impl<'de> Visitor<'de> for CommandVisitor {
            type Value = AppCommand;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a command: a list of arguments, or a string run with `sh -c`")
            }
            fn visit_str<E: de::Error>(self, line: &str) -> Result<AppCommand, E> {
                Ok(AppCommand::Shell(line.to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AppCommand, A::Error> {
                let mut argv = Vec::new();
                while let Some(arg) = seq.next_element::<ScalarString>()? {
                    argv.push(arg.0);
                }
                Ok(AppCommand::Argv(argv))
            }
        }
        deserializer.deserialize_any(CommandVisitor)
    }
}

impl<'de> Deserialize<'de> for RawUpstream {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct UpstreamVisitor;
        impl<'de> Visitor<'de> for UpstreamVisitor {
            type Value = RawUpstream;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a service name, or `{ service: NAME, port: PORT }`")
            }
            fn visit_str<E: de::Error>(self, service: &str) -> Result<RawUpstream, E> {
                Ok(RawUpstream {
                    service: service.to_string(),
                    port: None,
                    long_form: false,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawUpstream, A::Error> {
                let long = LongUpstream::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(RawUpstream {
                    service: long.service,
                    port: long.port,
                    long_form: true,
                })
            }
        }
        deserializer.deserialize_any(UpstreamVisitor)
    }
}

impl<'de> Deserialize<'de> for ScalarString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl Visitor<'_> for ScalarVisitor {
            type Value = ScalarString;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_string()))
            }
        }
        deserializer.deserialize_any(ScalarVisitor)
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for OrderedMap<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for MapVisitor<V> {
            type Value = OrderedMap<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedMap<V>, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, V>()? {
                    entries.push(entry);
                }
                Ok(OrderedMap(entries))
            }
        }
        deserializer.deserialize_map(MapVisitor(PhantomData))
    }
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;
