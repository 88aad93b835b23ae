//! `meshctl certs`: create the mesh CA, issue workload certificates, report expiry, inspect files.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Context as _;
use clap::Subcommand;
use serde::Serialize;

use self::proxies::{ProxyCertRow, ProxyCertState};
use super::Context;
use super::StateFor;
use super::target::{self, Chosen, KubeTargetArgs, mesh_error};
use crate::duration::{HumanDuration, format_compact};
use crate::exit::{CliError, CliResult, code};
use crate::fsutil::{self, PRIVATE_FILE_MODE, PUBLIC_FILE_MODE};
use crate::identity::ca::{
    self, DEFAULT_ANCHOR_LIFETIME, DEFAULT_ISSUER_LIFETIME, DEFAULT_LEAF_LIFETIME,
    MIN_ISSUED_LIFETIME,
};
use crate::identity::store::{CaStore, ExternalIssuer, InitOptions, Role};
use crate::identity::workload::{BUNDLE_FILE, CERT_FILE, KEY_FILE};
use crate::identity::{IdentityError, SpiffeId, pem, spiffe, svid};
use crate::kube::controller::status::merge;
use crate::kube::mesh;
use crate::output::rfc3339;
use crate::output::{self, color};

pub mod proxies;
pub mod rotate;

const STATUS_HELP: &str = "\
With a mesh running, a second table (JSON: `proxies`) shows every proxy's leaf and whether
its issuer and trust bundle are the current ones.

On Kubernetes (--target kubernetes, or no local mesh and a kubeconfig): the anchors of the
trust-bundle ConfigMap in the controller's namespace, the issuer the controller signs with
(from its /status: no access to the issuer Secret's key is needed), and the leaf every meshed
pod of the namespace reported serving.

Examples:
  meshctl certs status
  meshctl certs status --fail-within 30d       # in CI: exit 3 when anything expires within 30 days
  meshctl certs status -n shop -o json

Exit codes:
  0  every certificate is valid (and, with --fail-within, none expires within it)
  1  failure (no CA in the state dir, unreadable files)
  2  usage error
  3  a certificate has expired or expires within --fail-within (each one is named on stderr);
     a running proxy's leaf counts when it has expired (it renews itself before that)";

const SVID_RULES_HELP: &str = "\
Examples:
  meshctl certs inspect certs/api/tls.crt
  meshctl certs inspect .meshctl/identity/issuer.crt -o json

Exit codes:
  0  the file parsed and every X.509-SVID rule passed
  1  a rule failed, or the file is not a PEM certificate
  2  usage error (the file is missing or unreadable)";

const CERTS_HELP: &str = "\
Examples:
  meshctl certs init
  meshctl certs status --fail-within 30d
  meshctl certs rotate issuer";

const INIT_HELP: &str = "\
Examples:
  meshctl certs init
  meshctl certs init --trust-domain example.org --anchor-lifetime 730d
  meshctl certs init --issuer-cert corp-issuer.pem --issuer-key corp-issuer.key   # your organisation's CA as the issuer";

const ISSUE_HELP: &str = "\
Examples:
  meshctl certs issue spiffe://mesh.local/ns/local/sa/api --out certs/api
  meshctl certs issue spiffe://mesh.local/ns/local/sa/web --out certs/web --lifetime 1h";

#[derive(Debug, clap::Args)]
#[command(after_help = CERTS_HELP)]
pub struct Args {
    #[command(subcommand)]
    command: Certs,
}

#[derive(Debug, Subcommand)]
enum Certs {
    /// Create the trust anchor (root CA) and the issuer (intermediate CA) in the state dir
    #[command(after_help = INIT_HELP)]
    Init(InitArgs),
    /// Issue a workload certificate (X.509-SVID) and write tls.crt, tls.key and ca.crt to a directory
    #[command(after_help = ISSUE_HELP)]
    Issue(IssueArgs),
    /// Show anchor, issuer and issued leaves with their expiry
    #[command(after_help = STATUS_HELP)]
    Status(StatusArgs),
    /// Explain a PEM certificate or chain and check it against the X.509-SVID rules
    #[command(after_help = SVID_RULES_HELP)]
    Inspect(InspectArgs),
    /// Rotate the issuer or the trust anchor of a running mesh without downtime
    Rotate(rotate::Args),
}

#[derive(Debug, clap::Args)]
struct InitArgs {
    /// Trust domain of the mesh (the host part of every SPIFFE ID)
    #[arg(long, default_value = spiffe::DEFAULT_TRUST_DOMAIN)]
    trust_domain: String,
    /// Lifetime of the trust anchor
    #[arg(long, default_value = "365d", allow_hyphen_values = true)]
    anchor_lifetime: HumanDuration,
    /// Lifetime of the issuer (at most the anchor's)
    #[arg(long, default_value = "90d", allow_hyphen_values = true)]
    issuer_lifetime: HumanDuration,
    /// Replace an existing CA (every certificate it issued stops verifying)
    #[arg(long)]
    force: bool,
    /// Use an organisation's CA as the issuer: its certificate (PEM), optionally followed by
    /// the root it chains to; the root becomes the only trust anchor
    #[arg(long, value_name = "FILE", requires = "issuer_key")]
    issuer_cert: Option<PathBuf>,
    /// The external issuer's private key (PEM, not readable by other users)
    #[arg(long, value_name = "FILE", requires = "issuer_cert")]
    issuer_key: Option<PathBuf>,
    /// The root the external issuer chains to, when --issuer-cert does not include it
    #[arg(long, value_name = "FILE", requires = "issuer_cert")]
    anchor_cert: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct IssueArgs {
    /// The workload's SPIFFE ID, e.g. spiffe://mesh.local/ns/local/sa/api
    spiffe_id: String,
    /// Directory to write tls.crt (leaf + issuer), tls.key (0600) and ca.crt (trust bundle)
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Lifetime of the leaf: at least 1m, at most what is left of the issuer's
    #[arg(long, default_value = "24h", allow_hyphen_values = true)]
    lifetime: HumanDuration,
}

#[derive(Debug, clap::Args)]
struct StatusArgs {
    /// Exit 3 if any certificate expires within this duration (e.g. 30d)
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    fail_within: Option<HumanDuration>,
    #[command(flatten)]
    cluster: KubeTargetArgs,
}

#[derive(Debug, clap::Args)]
struct InspectArgs {
    /// PEM file holding one certificate or a chain (leaf first)
    file: PathBuf,
}

pub fn run(ctx: &mut Context<'_>, args: Args) -> CliResult {
    match args.command {
        Certs::Init(a) => init(ctx, a),
        Certs::Issue(a) => issue(ctx, a),
        Certs::Status(a) => status(ctx, a),
        Certs::Inspect(a) => inspect(ctx, a),
        Certs::Rotate(a) => rotate::run(ctx, a),
    }
}

fn store(ctx: &Context<'_>) -> Result<CaStore, CliError> {
    ctx.state_dir(StateFor::Ca).map(|d| CaStore::new(&d))
}

/// Maps identity errors to exit codes: bad input the user typed is a usage error.
fn identity_error(e: IdentityError) -> CliError {
    match e {
        IdentityError::SpiffeId(_)
        | IdentityError::ForeignTrustDomain { .. }
        | IdentityError::LifetimeBeyondIssuer { .. }
        | IdentityError::AlreadyInitialised { .. } => CliError::usage(e),
        other => CliError::from(anyhow::Error::new(other)),
    }
}

#[derive(Debug, Serialize)]
struct InitReport {
    state_dir: PathBuf,
    trust_domain: String,
    anchor_not_after: String,
    issuer_not_after: String,
}

fn init(ctx: &mut Context<'_>, a: InitArgs) -> CliResult {
    let state_dir = crate::state::for_create(ctx.global.state_dir.as_deref(), &ctx.cwd);
    let store = CaStore::new(&state_dir);
    let opts = InitOptions {
        trust_domain: a.trust_domain,
        anchor_lifetime: a.anchor_lifetime.0,
        issuer_lifetime: a.issuer_lifetime.0,
        force: a.force,
    };
    debug_assert!(
        DEFAULT_ANCHOR_LIFETIME.as_secs() == 365 * 86_400
            && DEFAULT_ISSUER_LIFETIME.as_secs() == 90 * 86_400
    );
    let meta = match (&a.issuer_cert, &a.issuer_key) {
        (Some(cert), Some(key)) => {
            let external = external_issuer(cert, key, a.anchor_cert.as_deref())?;
            store
                .init_external(&opts.trust_domain, &external, opts.force)
                .map_err(identity_error)?
        }
        _ => store.init(&opts).map_err(identity_error)?,
    };
    let certs = store.certificates().map_err(identity_error)?;
    let when = |role| {
        certs
            .iter()
            .find(|c| c.role == role)
            .and_then(|c| pem::not_after(&c.der).ok())
            .map(rfc3339)
            .unwrap_or_default()
    };
    let report = InitReport {
        state_dir: store.dir().to_path_buf(),
        trust_domain: meta.trust_domain,
        anchor_not_after: when(Role::Anchor),
        issuer_not_after: when(Role::Issuer),
    };
    if ctx.global.output.is_structured() {
        output::render(ctx.out, ctx.global.output, &report, |_| {
            output::table(["-"])
        })?;
    } else {
        writeln!(
            ctx.out,
            "created mesh CA for trust domain {} in {}\n  trust anchor valid until {}\n  issuer       valid until {}",
            report.trust_domain,
            report.state_dir.display(),
            report.anchor_not_after,
            report.issuer_not_after
        )?;
    }
    Ok(())
}

/// Reads an external issuer: its certificate, key and the root (from --anchor-cert or the
/// last block of the certificate file).
fn external_issuer(
    cert: &Path,
    key: &Path,
    anchor: Option<&Path>,
) -> Result<ExternalIssuer, CliError> {
    let read = |path: &Path| super::read_input_file("", path);
    let blocks = pem::cert_blocks(&read(cert)?);
    let anchor_pem = match anchor {
        Some(path) => read(path)?,
        None if blocks.len() >= 2 => blocks[blocks.len() - 1].clone(),
        None => {
            return Err(CliError::usage(anyhow::anyhow!(
                "{} holds no root after the issuer: pass --anchor-cert",
                cert.display()
            )));
        }
    };
    let cert_pem = blocks.first().cloned().ok_or_else(|| {
        CliError::usage(anyhow::anyhow!("{}: no CERTIFICATE block", cert.display()))
    })?;
    let key_pem = crate::identity::workload::read_private_key(key).map_err(identity_error)?;
    Ok(ExternalIssuer {
        cert_pem,
        key_pem,
        anchor_pem,
    })
}

#[derive(Debug, Serialize)]
struct IssueReport {
    spiffe_id: String,
    serial: String,
    not_after: String,
    files: Vec<PathBuf>,
}

fn issue(ctx: &mut Context<'_>, a: IssueArgs) -> CliResult {
    let id: SpiffeId = a
        .spiffe_id
        .parse()
        .map_err(|e: spiffe::SpiffeIdError| CliError::usage(e))?;
    let store = store(ctx)?;
    let meta = store.meta().map_err(identity_error)?;
    if id.trust_domain() != meta.trust_domain {
        return Err(identity_error(IdentityError::ForeignTrustDomain {
            got: id.trust_domain().to_string(),
            mesh: meta.trust_domain,
        }));
    }
    debug_assert_eq!(DEFAULT_LEAF_LIFETIME.as_secs(), 86_400);
    if a.lifetime.0 < MIN_ISSUED_LIFETIME {
        return Err(CliError::usage(anyhow::anyhow!(
            "--lifetime {:?}: shorter than the minimum of 1m (a certificate must outlive its deployment)",
            a.lifetime.0
        )));
    }
    let issuer = store.issuer().map_err(identity_error)?;
    let leaf = ca::issue_with_new_key(&issuer, &id, a.lifetime.0).map_err(identity_error)?;
    let chain = format!("{}{}", leaf.cert_pem, issuer.cert_pem);
    let bundle = store.bundle_pem().map_err(identity_error)?;

    // Everything is generated before the first byte is written.
    fsutil::create_private_dir(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let files = [
        (KEY_FILE, leaf.key_pem.as_bytes(), PRIVATE_FILE_MODE),
        (CERT_FILE, chain.as_bytes(), PUBLIC_FILE_MODE),
        (BUNDLE_FILE, bundle.as_bytes(), PUBLIC_FILE_MODE),
    ];
    let mut written = Vec::new();
    for (name, body, mode) in files {
        let path = a.out.join(name);
        fsutil::write_atomic(&path, body, mode)
            .with_context(|| format!("writing {}", path.display()))?;
        written.push(path);
    }
    store.record_leaf(&leaf.cert_pem).map_err(identity_error)?;

    let der = pem::first_cert(&leaf.cert_pem).map_err(identity_error)?;
    let parsed = pem::parse(&der).map_err(identity_error)?;
    let report = IssueReport {
        spiffe_id: id.to_string(),
        serial: pem::hex_serial(parsed.raw_serial()),
        not_after: rfc3339(pem::to_system_time(parsed.validity().not_after.timestamp())),
        files: written,
    };
    if ctx.global.output.is_structured() {
        output::render(ctx.out, ctx.global.output, &report, |_| {
            output::table(["-"])
        })?;
    } else {
        writeln!(
            ctx.out,
            "issued {} (serial {}), valid until {}",
            report.spiffe_id, report.serial, report.not_after
        )?;
        for f in &report.files {
            writeln!(ctx.out, "  wrote {}", f.display())?;
        }
    }
    Ok(())
}

/// One row of `certs status`; also its JSON/YAML shape (a stable contract).
#[derive(Debug, Serialize)]
struct CertRow {
    role: Role,
    subject: String,
    spiffe_id: Option<String>,
    serial: String,
    not_before: String,
    not_after: String,
    seconds_left: i64,
    state: CertState,
    path: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
enum CertState {
    Valid,
    /// Less than a fifth of its lifetime left, or inside `--fail-within`.
    Expiring,
    Expired,
    NotYetValid,
}

#[derive(Debug, Serialize)]
struct StatusReport {
    certificates: Vec<CertRow>,
    /// Every running proxy's leaf and bundle; absent when no mesh runs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    proxies: Vec<ProxyCertRow>,
}

fn status(ctx: &mut Context<'_>, a: StatusArgs) -> CliResult {
    let now = pem::unix_seconds(SystemTime::now());
    let window = a.fail_within.map(|d| d.0.as_secs() as i64);
    let target = ctx.target(Some(&a.cluster))?;
    let report = if target.chosen == Chosen::Kubernetes {
        status_kube(ctx, &a.cluster, &target.why, now, window)?
    } else {
        status_local(ctx, now, window)?
    };
    output::render(ctx.out, ctx.global.output, &report, |wide| {
        status_table(&report.certificates, wide)
    })?;
    if !ctx.global.output.is_structured() && !report.proxies.is_empty() {
        writeln!(ctx.out, "{}", proxies::table(&report.proxies))?;
    }
    // Proxy leaves renew themselves: only an expired one counts against --fail-within.
    let expired_proxies: Vec<&ProxyCertRow> = report
        .proxies
        .iter()
        .filter(|p| p.state == ProxyCertState::Expired)
        .collect();
    for p in &expired_proxies {
        eprintln!(
            "{} proxy {} serves a leaf that expired {} ago ({})",
            color::bad("expired:"),
            p.instance,
            format_compact(-p.seconds_left),
            p.not_after
        );
    }

    let failing: Vec<&CertRow> = report
        .certificates
        .iter()
        .filter(|r| r.state == CertState::Expired || window.is_some_and(|w| r.seconds_left < w))
        .collect();
    if failing.is_empty() && expired_proxies.is_empty() {
        return Ok(());
    }
    for r in &failing {
        let when = if r.seconds_left <= 0 {
            format!("expired {} ago", format_compact(-r.seconds_left))
        } else {
            format!("expires in {}", format_compact(r.seconds_left))
        };
        eprintln!(
            "{} {:?} {} {} ({})",
            color::bad("expiring:"),
            r.role,
            r.subject,
            when,
            r.not_after
        );
    }
    Err(CliError::silent(code::EXPIRING))
}

/// The local mesh: the CA in the state directory, and every running proxy's leaf.
fn status_local(
    ctx: &Context<'_>,
    now: i64,
    window: Option<i64>,
) -> Result<StatusReport, CliError> {
    let store = store(ctx)?;
    let mut certificates = Vec::new();
    for cert in store.certificates().map_err(identity_error)? {
        certificates.push(cert_row(cert.role, &cert.der, cert.path, now, window)?);
    }
    let state_dir = store.dir().parent().unwrap_or(Path::new("."));
    let issuer = store.issuer_fingerprint().map_err(identity_error)?;
    let bundle = store.bundle_fingerprints().map_err(identity_error)?;
    Ok(StatusReport {
        certificates,
        proxies: proxies::rows(
            state_dir,
            &issuer,
            &bundle,
            now,
            ctx.global.request_timeout.0,
        )?,
    })
}

/// A cluster: the anchors of the trust-bundle ConfigMap install wrote, the issuer the
/// controller signs with (from its `/status`: reading the issuer Secret would need access to
/// its key), and the leaf every meshed pod of the namespace reported serving.
fn status_kube(
    ctx: &Context<'_>,
    args: &KubeTargetArgs,
    why: &str,
    now: i64,
    window: Option<i64>,
) -> Result<StatusReport, CliError> {
    let runtime = super::client_runtime()?;
    let timeout = ctx.global.request_timeout.0;
    let (cluster, bundle_pem, replicas) = runtime.block_on(async {
        let cluster = target::cluster(args, timeout, why).await?;
        let cns = &args.controller_namespace;
        let bundle = mesh::trust_bundle(&cluster, cns)
            .await
            .map_err(mesh_error)?;
        let replicas = mesh::controller_status(&cluster)
            .await
            .map_err(mesh_error)?;
        Ok::<_, CliError>((cluster, bundle, replicas))
    })?;
    let cns = &args.controller_namespace;
    let mut certificates = Vec::new();
    let bundle_path = PathBuf::from(format!(
        "configmaps/{cns}/{}",
        crate::kube::TRUST_BUNDLE_CONFIGMAP
    ));
    let anchors = pem::certs(&bundle_pem).map_err(identity_error)?;
    for der in &anchors {
        certificates.push(cert_row(
            Role::Anchor,
            der,
            bundle_path.clone(),
            now,
            window,
        )?);
    }
    let bundle: Vec<String> = anchors.iter().map(|d| pem::fingerprint(d)).collect();
    // Every replica reads the same Secret at start; one restarted after the Secret changed
    // would differ: the first replica that says is shown.
    let issuer = match replicas.iter().find(|r| !r.issuer_pem.is_empty()) {
        Some(r) => {
            let der = pem::first_cert(&r.issuer_pem).map_err(identity_error)?;
            let path = PathBuf::from(format!("secrets/{cns}/{}", crate::kube::ISSUER_SECRET));
            certificates.push(cert_row(Role::Issuer, &der, path, now, window)?);
            pem::fingerprint(&der)
        }
        None => {
            tracing::warn!("no controller replica reported its issuer (an older controller?)");
            String::new()
        }
    };
    let proxies = merge(&replicas)
        .into_iter()
        .filter(|m| m.proxy.namespace() == cluster.namespace)
        .map(|m| proxies::row(crate::kube::rotation::view(m.proxy), &issuer, &bundle, now))
        .collect();
    Ok(StatusReport {
        certificates,
        proxies,
    })
}

/// A certificate's row: its state at `now`, expiring inside `window` (seconds) or in the last
/// fifth of its lifetime.
fn cert_row(
    role: Role,
    der: &[u8],
    path: PathBuf,
    now: i64,
    window: Option<i64>,
) -> Result<CertRow, CliError> {
    let parsed = pem::parse(der).map_err(identity_error)?;
    let (nb, na) = (
        parsed.validity().not_before.timestamp(),
        parsed.validity().not_after.timestamp(),
    );
    let left = na - now;
    let state = if left <= 0 {
        CertState::Expired
    } else if nb > now {
        CertState::NotYetValid
    } else if window.is_some_and(|w| left < w) || left * 5 < (na - nb) {
        CertState::Expiring
    } else {
        CertState::Valid
    };
    let spiffe_id = svid::uri_sans(&parsed).first().map(|s| s.to_string());
    let subject = spiffe_id.clone().unwrap_or_else(|| common_name(&parsed));
    Ok(CertRow {
        role,
        subject,
        spiffe_id,
        serial: pem::hex_serial(parsed.raw_serial()),
        not_before: rfc3339(pem::to_system_time(nb)),
        not_after: rfc3339(pem::to_system_time(na)),
        seconds_left: left,
        state,
        path,
    })
}

fn status_table(rows: &[CertRow], wide: bool) -> comfy_table::Table {
    let mut headers = vec![
        "ROLE",
        "SUBJECT",
        "SERIAL",
        "NOT AFTER",
        "TIME LEFT",
        "STATUS",
    ];
    if wide {
        headers.push("PATH");
    }
    let mut t = output::table(headers);
    for r in rows {
        let state = match r.state {
            CertState::Valid => color::ok("valid"),
            CertState::Expiring => color::warn("expiring"),
            CertState::Expired => color::bad("expired"),
            CertState::NotYetValid => color::warn("not-yet-valid"),
        };
        let role = format!("{:?}", r.role).to_lowercase();
        let serial = if wide || r.serial.len() <= 23 {
            r.serial.clone()
        } else {
            format!("{}…", &r.serial[..23])
        };
        let mut row = vec![
            role,
            r.subject.clone(),
            serial,
            r.not_after.clone(),
            format_compact(r.seconds_left),
            state.to_string(),
        ];
        if wide {
            row.push(r.path.display().to_string());
        }
        t.add_row(row);
    }
    t
}

#[derive(Debug, Serialize)]
struct InspectedCert {
    position: usize,
    subject: String,
    issuer: String,
    serial: String,
    not_before: String,
    not_after: String,
    key: String,
    is_ca: bool,
    uri_sans: Vec<String>,
    dns_sans: Vec<String>,
    extensions: Vec<String>,
    rules: Vec<svid::RuleOutcome>,
}

fn inspect(ctx: &mut Context<'_>, a: InspectArgs) -> CliResult {
    let text = super::read_input_file("", &a.file)?;
    let ders = pem::certs(&text).with_context(|| format!("{}", a.file.display()))?;
    let mut certs = Vec::new();
    for (i, der) in ders.iter().enumerate() {
        let parsed = pem::parse(der)
            .with_context(|| format!("{}: certificate #{}", a.file.display(), i + 1))?;
        certs.push(describe(i, &parsed));
    }
    let failed = certs.iter().any(|c| c.rules.iter().any(|r| !r.passed));
    if ctx.global.output.is_structured() {
        output::render(ctx.out, ctx.global.output, &certs, |_| output::table(["-"]))?;
    } else {
        print_inspection(ctx.out, &a.file, &certs)?;
    }
    if failed {
        return Err(CliError::new(
            anyhow::anyhow!(
                "{}: an X.509-SVID rule failed (marked ✗ above)",
                a.file.display()
            ),
            code::FAILURE,
        ));
    }
    Ok(())
}

fn describe(position: usize, c: &x509_parser::certificate::X509Certificate<'_>) -> InspectedCert {
    use x509_parser::extensions::GeneralName;
    let ca = svid::is_ca(c);
    let dns_sans = match c.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(|n| {
                if let GeneralName::DNSName(d) = n {
                    Some(d.to_string())
                } else {
                    None
                }
            })
            .collect(),
        _ => Vec::new(),
    };
    let extensions = c
        .extensions()
        .iter()
        .map(|e| {
            let name = x509_parser::objects::oid2sn(&e.oid, x509_parser::objects::oid_registry())
                .map(str::to_string)
                .unwrap_or_else(|_| e.oid.to_id_string());
            if e.critical {
                format!("{name} (critical)")
            } else {
                name
            }
        })
        .collect();
    // A chain's leaf (position 0, not a CA) gets the leaf rules; signing certs get CA rules.
    let rules = if ca {
        svid::signing_rules(c)
    } else {
        svid::leaf_rules(c)
    };
    InspectedCert {
        position,
        subject: c.subject().to_string(),
        issuer: c.issuer().to_string(),
        serial: pem::hex_serial(c.raw_serial()),
        not_before: rfc3339(pem::to_system_time(c.validity().not_before.timestamp())),
        not_after: rfc3339(pem::to_system_time(c.validity().not_after.timestamp())),
        key: key_type(c),
        is_ca: ca,
        uri_sans: svid::uri_sans(c).into_iter().map(str::to_string).collect(),
        dns_sans,
        extensions,
        rules,
    }
}

fn print_inspection(
    out: &mut dyn std::io::Write,
    file: &Path,
    certs: &[InspectedCert],
) -> std::io::Result<()> {
    for c in certs {
        let kind = if c.is_ca {
            "CA certificate"
        } else {
            "leaf certificate"
        };
        writeln!(out, "{} #{} ({kind})", file.display(), c.position + 1)?;
        writeln!(out, "  subject:     {}", c.subject)?;
        writeln!(out, "  issuer:      {}", c.issuer)?;
        writeln!(out, "  serial:      {}", c.serial)?;
        writeln!(out, "  not before:  {}", c.not_before)?;
        writeln!(out, "  not after:   {}", c.not_after)?;
        writeln!(out, "  key:         {}", c.key)?;
        writeln!(out, "  URI SANs:    {}", join_or_none(&c.uri_sans))?;
        writeln!(out, "  DNS SANs:    {}", join_or_none(&c.dns_sans))?;
        writeln!(out, "  extensions:  {}", join_or_none(&c.extensions))?;
        writeln!(out, "  X.509-SVID rules:")?;
        for r in &c.rules {
            let mark = if r.passed {
                color::ok("✓")
            } else {
                color::bad("✗")
            };
            writeln!(out, "    {mark} {:<28} {}", r.rule.name(), r.detail)?;
        }
    }
    Ok(())
}

fn join_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".to_string()
    } else {
        items.join(", ")
    }
}

fn common_name(c: &x509_parser::certificate::X509Certificate<'_>) -> String {
    c.subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .unwrap_or_default()
        .to_string()
}

fn key_type(c: &x509_parser::certificate::X509Certificate<'_>) -> String {
    use x509_parser::public_key::PublicKey;
    let spki = c.public_key();
    match spki.parsed() {
        Ok(PublicKey::EC(_)) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|oid| match oid.to_id_string().as_str() {
                    "1.2.840.10045.3.1.7" => "P-256".to_string(),
                    "1.3.132.0.34" => "P-384".to_string(),
                    other => other.to_string(),
                })
                .unwrap_or_else(|| "unknown curve".into());
            format!("ECDSA {curve}")
        }
        Ok(PublicKey::RSA(k)) => format!("RSA {} bits", k.key_size()),
        Ok(_) | Err(_) => spki.algorithm.algorithm.to_id_string(),
    }
}
