//! `meshctl gateway keys add|list|revoke`: the gateway's API key file. The gateway itself is
//! declared in mesh.yaml (`gateway:`) and run by `meshctl up`; it re-reads this file when it
//! changes, so keys are added and revoked live.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Subcommand;
use serde::Serialize;

use super::{Context, StateFor};
use crate::api::api_keys::{KeyFile, KeyFileError};
use crate::control::meshfile::MeshFile;
use crate::exit::{CliError, CliResult};
use crate::output;

const GATEWAY_HELP: &str = "\
The gateway is the mesh's entry for external clients: declare it under `gateway:` in mesh.yaml
(listen address, TLS certificate, routes by host/path/method/headers to services, API keys and
rate limits per route) and `meshctl up` runs it as a proxy with its own identity (…/sa/gateway).
These commands manage its API key file. The file holds each key's name and SHA-256 only,
mode 0600; the running gateway re-reads it when it changes, so an added key works and a revoked
one is refused (403) within a second, without a restart.

Examples:
  KEY=$(meshctl gateway keys add ci --keys-file gateway-keys.json)
  curl -H \"x-api-key: $KEY\" https://127.0.0.1:8443/
  meshctl gateway keys list --keys-file gateway-keys.json -o json
  meshctl gateway keys revoke ci --keys-file gateway-keys.json";

const KEYS_HELP: &str = "\
Examples:
  meshctl gateway keys add ci --keys-file gateway-keys.json
  meshctl gateway keys list --keys-file gateway-keys.json
  meshctl gateway keys revoke ci --keys-file gateway-keys.json

Exit codes: 0 done; 1 the name exists (add) or is not an active key (revoke); 2 the key file
is unreadable, not a key file, or readable by other users.";

#[derive(Debug, clap::Args)]
#[command(after_help = GATEWAY_HELP)]
pub struct Args {
    #[command(subcommand)]
    command: GatewayCommand,
}

#[derive(Debug, Subcommand)]
enum GatewayCommand {
    /// Manage the gateway's API keys
    #[command(subcommand, after_help = KEYS_HELP)]
    Keys(KeysCommand),
    /// Apply mesh.yaml's edited `gateway:` (routes, limits, keys file, certificate) to the
    /// running mesh's gateway, without dropping a connection
    #[command(after_help = RELOAD_HELP)]
    Reload {
        /// The mesh file
        #[arg(short = 'f', long = "file", value_name = "FILE", default_value = crate::control::meshfile::DEFAULT_FILE_NAME)]
        file: PathBuf,
    },
}

const RELOAD_HELP: &str = "\
Checks mesh.yaml as `meshctl up` would (exit 2 naming file:line:column), then writes the
gateway section where the running gateway reads it; the gateway applies it within a second
(open connections carry on; token buckets start full). Refused (exit 1, nothing changed)
when the change needs `meshctl up` restarted: a route to a service the running gateway does
not call yet, another listen address, TLS turned on or off.

Examples:
  meshctl gateway reload
  meshctl gateway reload -f deploy/mesh.yaml";

#[derive(Debug, clap::Args)]
struct KeysFile {
    /// The key file (mesh.yaml's `gateway.keys_file`); created by the first `add`
    #[arg(long, value_name = "FILE", env = "MESHCTL_GATEWAY_KEYS_FILE")]
    keys_file: PathBuf,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Create a key named NAME and print it (stdout; shown this once, only its hash is kept)
    #[command(
        after_help = "Examples:\n  KEY=$(meshctl gateway keys add ci --keys-file gateway-keys.json)\n  meshctl gateway keys add partner-a --keys-file gateway-keys.json -o json"
    )]
    Add {
        /// The key's name: what the service sees (x-meshctl-api-key-name) and metrics count
        name: String,
        #[command(flatten)]
        file: KeysFile,
    },
    /// List the keys: name, when created, active or revoked (never the keys)
    #[command(
        after_help = "Examples:\n  meshctl gateway keys list --keys-file gateway-keys.json\n  meshctl gateway keys list --keys-file gateway-keys.json -o json"
    )]
    List {
        #[command(flatten)]
        file: KeysFile,
    },
    /// Revoke the active key NAME: from then on it is answered 403 (kept, so it is told apart
    /// from an unknown key)
    #[command(
        after_help = "Examples:\n  meshctl gateway keys revoke ci --keys-file gateway-keys.json"
    )]
    Revoke {
        name: String,
        #[command(flatten)]
        file: KeysFile,
    },
}

#[derive(Debug, Serialize)]
struct Added<'a> {
    name: &'a str,
    key: &'a str,
}

#[derive(Debug, Serialize)]
struct KeyView {
    name: String,
    created: String,
    revoked: Option<String>,
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn rfc3339(unix: u64) -> String {
    output::rfc3339(UNIX_EPOCH + std::time::Duration::from_secs(unix))
}

/// A key file that cannot be read or is not a key file is an input error (exit 2); a name
/// that exists or does not is a failed command (exit 1).
fn file_error(e: KeyFileError) -> CliError {
    match e {
        KeyFileError::Exists(_) | KeyFileError::NoSuchKey(_) | KeyFileError::NoRandomness(_) => {
            CliError::from(anyhow::Error::new(e))
        }
        _ => CliError::usage(e),
    }
}

pub fn run(ctx: &mut Context<'_>, args: Args) -> CliResult {
    let command = match args.command {
        GatewayCommand::Keys(command) => command,
        GatewayCommand::Reload { file } => {
            let path = ctx.cwd.join(file);
            let mesh = MeshFile::load(&path).map_err(CliError::usage)?;
            let state = ctx.state_dir(StateFor::Mesh)?;
            let written = crate::control::launch::reload_gateway(&state, &mesh)
                .map_err(|e| CliError::from(anyhow::anyhow!(e)))?;
            eprintln!(
                "gateway configuration written to {}; the gateway applies it within a second",
                written.display()
            );
            return Ok(());
        }
    };
    match command {
        KeysCommand::Add { name, file } => {
            let path = ctx.cwd.join(&file.keys_file);
            let mut keys = KeyFile::load_or_empty(&path).map_err(file_error)?;
            let key = keys.add(&name, now_unix()).map_err(file_error)?;
            keys.save(&path).map_err(file_error)?;
            if ctx.global.output.is_structured() {
                let added = Added {
                    name: &name,
                    key: &key,
                };
                output::render(ctx.out, ctx.global.output, &added, |_| {
                    output::table(["NAME", "KEY"])
                })?;
            } else {
                writeln!(ctx.out, "{key}")?;
                eprintln!(
                    "added key `{name}` to {}: store it now, it is not kept",
                    file.keys_file.display()
                );
            }
            Ok(())
        }
        KeysCommand::List { file } => {
            let path = ctx.cwd.join(&file.keys_file);
            let keys = KeyFile::load(&path).map_err(file_error)?;
            let views: Vec<KeyView> = keys
                .keys
                .iter()
                .map(|k| KeyView {
                    name: k.name.clone(),
                    created: rfc3339(k.created_unix),
                    revoked: k.revoked_unix.map(rfc3339),
                })
                .collect();
            output::render(ctx.out, ctx.global.output, &views, |_| {
                let mut t = output::table(["NAME", "CREATED", "STATUS"]);
                for v in &views {
                    let status = match &v.revoked {
                        Some(at) => format!("revoked {at}"),
                        None => "active".to_string(),
                    };
                    t.add_row(vec![v.name.clone(), v.created.clone(), status]);
                }
                t
            })?;
            Ok(())
        }
        KeysCommand::Revoke { name, file } => {
            let path = ctx.cwd.join(&file.keys_file);
            let mut keys = KeyFile::load(&path).map_err(file_error)?;
            keys.revoke(&name, now_unix()).map_err(file_error)?;
            keys.save(&path).map_err(file_error)?;
            eprintln!("revoked key `{name}` in {}", file.keys_file.display());
            Ok(())
        }
    }
}
