//! `meshctl inject` / `meshctl uninject`: add or remove the sidecar in a stream of manifests
//! (multi-document YAML, or JSON), written to stdout in the same form.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use serde::Deserialize;
use serde_yaml::Value;

use super::Context;
use crate::exit::{CliError, CliResult};
use crate::kube::inject::{self, InjectOptions};
use crate::kube::{DEFAULT_IMAGE, DEFAULT_NAMESPACE};
use crate::output::OutputFormat;

const INJECT_HELP: &str = "\
Adds the meshctl-proxy sidecar to every Pod and pod template (Deployment, StatefulSet,
DaemonSet, ReplicaSet, Job, CronJob; also inside List objects); everything else passes through
unchanged. Injecting an injected manifest changes nothing. Pod annotations:
  meshctl.io/upstreams: api,quotes   services the app calls (MESH_UPSTREAM_API=127.0.0.1:4150, ...)
  meshctl.io/app-port: 8080          the port the sidecar forwards to (default: the first
                                     containerPort of the first container)
Apps reach other services through HTTP_PROXY (set in every app container) or their
MESH_UPSTREAM_<NAME> address; traffic is not redirected transparently.

Examples:
  meshctl inject -f deploy.yaml | kubectl apply -f -
  kubectl get deploy web -n shop -o yaml | meshctl inject | kubectl apply -f -
  meshctl inject -f deploy.yaml --image registry.example.com/meshctl:0.1.0 > deploy.meshed.yaml

Exit codes:
  0  written to stdout
  1  the input could not be read
  2  the input is not YAML/JSON, or a workload cannot be injected (nothing is written)";

/// Input and output shared by both commands.
#[derive(Debug, clap::Args)]
pub struct StreamArgs {
    /// Manifests to read: a file, or - for standard input
    #[arg(
        short = 'f',
        long = "filename",
        value_name = "FILE",
        default_value = "-"
    )]
    file: PathBuf,
}

#[derive(Debug, clap::Args)]
#[command(after_help = INJECT_HELP)]
pub struct InjectArgs {
    #[command(flatten)]
    stream: StreamArgs,
    /// The sidecar's image (the meshctl binary, as the controller's)
    #[arg(long, value_name = "IMAGE", default_value = DEFAULT_IMAGE)]
    image: String,
    /// The namespace the control plane was installed in (`meshctl install --namespace`)
    #[arg(long, value_name = "NAME", default_value = DEFAULT_NAMESPACE)]
    control_plane_namespace: String,
}

const UNINJECT_HELP: &str = "\
Removes exactly what `meshctl inject` added: the meshctl-proxy container, its volumes, the
environment variables it set in the app containers (named in an annotation) and the label;
uninjecting an injected manifest gives the original back.

Examples:
  meshctl uninject -f deploy.meshed.yaml > deploy.yaml
  kubectl get deploy web -n shop -o yaml | meshctl uninject | kubectl apply -f -";

#[derive(Debug, clap::Args)]
#[command(after_help = UNINJECT_HELP)]
pub struct UninjectArgs {
    #[command(flatten)]
    stream: StreamArgs,
}

pub fn run_inject(ctx: &mut Context<'_>, args: InjectArgs) -> CliResult {
    let opts = InjectOptions {
        image: args.image,
        control_plane_namespace: args.control_plane_namespace,
    };
    transform(ctx, &args.stream, "injected", |doc| {
        inject::inject(doc, &opts)
    })
}

pub fn run_uninject(ctx: &mut Context<'_>, args: UninjectArgs) -> CliResult {
    transform(ctx, &args.stream, "uninjected", inject::uninject)
}

/// Reads every document, applies `change` to each, and writes them all only once every one
/// succeeded: a bad document leaves stdout empty.
fn transform(
    ctx: &mut Context<'_>,
    stream: &StreamArgs,
    verb: &str,
    mut change: impl FnMut(&mut Value) -> Result<usize, inject::InjectError>,
) -> CliResult {
    let (name, text) = read_input(&stream.file)?;
    let json = match ctx.global.output {
        OutputFormat::Json => true,
        OutputFormat::Yaml => false,
        _ => text.trim_start().starts_with(['{', '[']),
    };
    let mut documents = parse(&name, &text)?;
    let mut pods = 0;
    for (i, doc) in documents.iter_mut().enumerate() {
        pods += change(doc)
            .map_err(|e| CliError::usage(anyhow::anyhow!("{name}: document {}: {e}", i + 1)))?;
    }
    let rendered = render(&documents, json)?;
    ctx.out.write_all(rendered.as_bytes())?;
    if std::io::stderr().is_terminal() {
        eprintln!("{pods} pod template(s) {verb}");
    }
    Ok(())
}

/// The input's name for messages and its text.
fn read_input(file: &PathBuf) -> Result<(String, String), CliError> {
    let mut text = String::new();
    if file.as_os_str() == "-" {
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| CliError::from(anyhow::anyhow!("reading standard input: {e}")))?;
        return Ok(("<stdin>".into(), text));
    }
    text = std::fs::read_to_string(file)
        .map_err(|e| CliError::from(anyhow::anyhow!("reading {}: {e}", file.display())))?;
    Ok((file.display().to_string(), text))
}

/// Every non-empty document (a JSON file is one document).
fn parse(name: &str, text: &str) -> Result<Vec<Value>, CliError> {
    let mut documents = Vec::new();
    for (i, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let value = Value::deserialize(document)
            .map_err(|e| CliError::usage(anyhow::anyhow!("{name}: document {}: {e}", i + 1)))?;
        if !value.is_null() {
            documents.push(value);
        }
    }
    Ok(documents)
}

/// YAML documents separated by `---`, or JSON: one object as itself, several as a `List`.
fn render(documents: &[Value], json: bool) -> Result<String, CliError> {
    let fail = |e: &dyn std::fmt::Display| CliError::from(anyhow::anyhow!("writing: {e}"));
    if json {
        let value = match documents {
            [one] => serde_json::to_value(one).map_err(|e| fail(&e))?,
            many => serde_json::json!({"apiVersion": "v1", "kind": "List", "items": many}),
        };
        let mut text = serde_json::to_string_pretty(&value).map_err(|e| fail(&e))?;
        text.push('\n');
        return Ok(text);
    }
    let mut out = String::new();
    for (i, doc) in documents.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&serde_yaml::to_string(doc).map_err(|e| fail(&e))?);
    }
    Ok(out)
}
