//! `meshctl explain`: what the mesh would do with one request, and why, asked of the running
//! proxies (a dry run: nothing reaches any app).

use super::{Context, StateFor};
use crate::control::plan::MeshPlan;
use crate::exit::{CliError, CliResult};
use crate::observe::explain::{self, ExplainError, Question};
use crate::output;

const EXPLAIN_HELP: &str = "\
A dry run of one request from CALLER's app to the URL's service, against the configuration the
running proxies hold now. CALLER's proxy answers for its side with the functions its data path
runs: which of the destination's routes matched (and what each earlier one lacked), the version
(pinned by the route, or each version's chance under the split, with ejected endpoints' share
going where the proxy would send it), the timeout, whether retries apply and the retry budget
now, each endpoint's circuit, and the fault the request would meet with its chance. One proxy
of every version the request may reach answers for the destination's side: whether its
authorization allows CALLER's identity, by which rule (or which rule came closest and what it
lacked), and the normalised path the app would see. Nothing is sent to any app, nothing is
counted, no circuit probe is taken.

The prediction lists how the request can end, with chances: forwarded to a version, answered by
an injected abort, 503 when no endpoint admits it, or 403/400 from the destination. Rate limits
(policy.rate_limit) are not predicted: they depend on the traffic of the moment.

Local mesh only: on Kubernetes the proxies' admin listeners are inside the pods.

Examples:
  meshctl explain web GET http://api/hello
  meshctl explain web GET http://api/hello -H 'x-canary: 1'
  meshctl explain web POST http://api/admin -o json | jq '.prediction'

Exit codes:
  0  explained
  1  no mesh is running, or a proxy could not be asked
  2  usage error (unknown caller, a service that is not the caller's upstream, bad URL, method
     or header; the mesh is on Kubernetes)";

#[derive(Debug, clap::Args)]
#[command(after_help = EXPLAIN_HELP)]
pub struct Args {
    /// SERVICE or SERVICE/VERSION whose app sends the request
    #[arg(add = super::complete::targets())]
    caller: String,
    /// Request method (GET, POST, ...)
    method: String,
    /// http://SERVICE/PATH?QUERY, as the caller's app would request it
    url: String,
    /// A request header, `NAME: VALUE` (repeatable)
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,
}

pub fn run(ctx: &mut Context<'_>, args: Args) -> CliResult {
    ctx.local_only("explain")?;
    let headers = args
        .headers
        .iter()
        .map(|h| {
            let (name, value) = h.split_once(':').ok_or_else(|| {
                CliError::usage(anyhow::anyhow!(
                    "-H `{h}`: give NAME: VALUE (e.g. -H 'x-canary: 1')"
                ))
            })?;
            Ok((name.trim().to_string(), value.trim().to_string()))
        })
        .collect::<Result<Vec<_>, CliError>>()?;
    if http::Method::from_bytes(args.method.as_bytes()).is_err() {
        return Err(CliError::usage(anyhow::anyhow!(
            "method `{}` is not a valid HTTP method",
            args.method
        )));
    }
    let question = Question {
        caller: args.caller,
        method: args.method,
        url: args.url,
        headers,
    };
    let state = ctx.state_dir(StateFor::Mesh)?;
    let plan = MeshPlan::load(&state).map_err(anyhow::Error::new)?;
    let runtime = super::client_runtime()?;
    let answer = runtime
        .block_on(explain::explain(&plan, &question))
        .map_err(|e| match e {
            ExplainError::Usage(_) => CliError::usage(e),
            ExplainError::Proxy(_) => CliError::from(anyhow::Error::new(e)),
        })?;
    let format = ctx.global.output;
    if format.is_structured() {
        output::render(ctx.out, format, &answer, |_| {
            output::table(Vec::<&str>::new())
        })?;
    } else {
        ctx.out.write_all(explain::text(&answer).as_bytes())?;
    }
    Ok(())
}
