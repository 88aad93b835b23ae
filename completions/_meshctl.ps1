
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'meshctl' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'meshctl'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'meshctl' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('up', 'up', [CompletionResultType]::ParameterValue, 'Run a whole mesh from mesh.yaml on this machine: control plane, proxies, apps')
            [CompletionResult]::new('demo', 'demo', [CompletionResultType]::ParameterValue, 'Run the built-in demo mesh (the same as `meshctl up --demo`)')
            [CompletionResult]::new('down', 'down', [CompletionResultType]::ParameterValue, 'Stop the mesh `meshctl up --detach` started')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show what runs in the mesh (local, or the meshed pods on Kubernetes) and whether it is healthy')
            [CompletionResult]::new('stat', 'stat', [CompletionResultType]::ParameterValue, 'Golden metrics per service and version: success rate, RPS, latency percentiles')
            [CompletionResult]::new('tap', 'tap', [CompletionResultType]::ParameterValue, 'Live requests through a service''s proxies: request, response and end of each')
            [CompletionResult]::new('replay', 'replay', [CompletionResultType]::ParameterValue, 'Send a HAR file''s requests again through a meshed caller, to one version or two compared')
            [CompletionResult]::new('top', 'top', [CompletionResultType]::ParameterValue, 'The busiest routes (source, destination, method, path), live; q quits')
            [CompletionResult]::new('edges', 'edges', [CompletionResultType]::ParameterValue, 'Who talks to whom: client and server identities and whether the hop was mTLS')
            [CompletionResult]::new('explain', 'explain', [CompletionResultType]::ParameterValue, 'What the mesh would do with one request, and why (a dry run on the live proxies)')
            [CompletionResult]::new('canary', 'canary', [CompletionResultType]::ParameterValue, 'Shift traffic between a service''s versions (weighted splits)')
            [CompletionResult]::new('fault', 'fault', [CompletionResultType]::ParameterValue, 'Inject aborts and delays into a service''s traffic (chaos testing), clear and list them')
            [CompletionResult]::new('gateway', 'gateway', [CompletionResultType]::ParameterValue, 'The mesh''s entry for external clients (declared in mesh.yaml): manage its API keys')
            [CompletionResult]::new('certs', 'certs', [CompletionResultType]::ParameterValue, 'Manage the mesh certificate authority and workload certificates')
            [CompletionResult]::new('install', 'install', [CompletionResultType]::ParameterValue, 'Install the mesh''s control plane in a Kubernetes cluster (print or apply the manifests)')
            [CompletionResult]::new('uninstall', 'uninstall', [CompletionResultType]::ParameterValue, 'Remove what `meshctl install` created from a Kubernetes cluster')
            [CompletionResult]::new('inject', 'inject', [CompletionResultType]::ParameterValue, 'Add the sidecar to Kubernetes manifests (Pods, Deployments, Jobs, …) read from a file or stdin')
            [CompletionResult]::new('uninject', 'uninject', [CompletionResultType]::ParameterValue, 'Remove what `meshctl inject` added')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Check the local mesh''s health: control plane, proxies, apps, certificates (or with --kube the cluster''s): √ ‼ ×, with a hint each')
            [CompletionResult]::new('controller', 'controller', [CompletionResultType]::ParameterValue, 'Run the control plane of a local mesh (started for you by `meshctl up`), or with --kube of a cluster (what `meshctl install` deploys)')
            [CompletionResult]::new('prometheus-config', 'prometheus-config', [CompletionResultType]::ParameterValue, 'Print a Prometheus scrape job for the local mesh''s proxies (file_sd, kept current by `up`)')
            [CompletionResult]::new('completion', 'completion', [CompletionResultType]::ParameterValue, 'Print the shell completion script for bash, zsh, fish or powershell')
            [CompletionResult]::new('version', 'version', [CompletionResultType]::ParameterValue, 'Print the client''s version and the control plane''s (the local mesh''s, or every controller replica''s on Kubernetes)')
            [CompletionResult]::new('proxy', 'proxy', [CompletionResultType]::ParameterValue, 'Run the sidecar proxy (mTLS data plane)')
            [CompletionResult]::new('generate', 'generate', [CompletionResultType]::ParameterValue, 'Generate shell completions and man pages (for packagers)')
            [CompletionResult]::new('demo-app', 'demo-app', [CompletionResultType]::ParameterValue, 'Run one role of the built-in demo application (launched by `meshctl up --demo`)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'meshctl;up' {
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'The mesh description')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'The mesh description')
            [CompletionResult]::new('--v2-error-rate', '--v2-error-rate', [CompletionResultType]::ParameterName, 'With --demo: the share of requests api v2 fails (both versions fail 2% by default), e.g. 30% to watch `canary start` roll a broken v2 back')
            [CompletionResult]::new('--leaf-lifetime', '--leaf-lifetime', [CompletionResultType]::ParameterName, 'Lifetime of the proxies'' workload certificates (renewed at 70%)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--demo', '--demo', [CompletionResultType]::ParameterName, 'Run the built-in demo (web → api v1/v2 → quotes over gRPC, with a load generator)')
            [CompletionResult]::new('--detach', '--detach', [CompletionResultType]::ParameterName, 'Start in the background and return once ready (`meshctl down` stops it)')
            [CompletionResult]::new('--reset-state', '--reset-state', [CompletionResultType]::ParameterName, 'Discard the saved traffic state (splits.json, faults.json, canary-routes.json are moved aside to <file>.discarded) and start from mesh.yaml alone')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;demo' {
            [CompletionResult]::new('--v2-error-rate', '--v2-error-rate', [CompletionResultType]::ParameterName, 'The share of requests api v2 fails (both versions fail 2% by default), e.g. 30% to watch `canary start` roll a broken v2 back')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;down' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;status' {
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kubeconfig context [default: the current context]')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the services and pods [default: the context''s namespace]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the services and pods [default: the context''s namespace]')
            [CompletionResult]::new('--controller-admin', '--controller-admin', [CompletionResultType]::ParameterName, 'The controller''s admin listener (http://HOST:PORT), for when the API server cannot proxy to it [default: the controller pods, through the API server''s pods/proxy]')
            [CompletionResult]::new('--controller-namespace', '--controller-namespace', [CompletionResultType]::ParameterName, 'The namespace `meshctl install` put the controller in')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;stat' {
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'Window the figures cover (10s-5m)')
            [CompletionResult]::new('--window', '--window', [CompletionResultType]::ParameterName, 'Window the figures cover (10s-5m)')
            [CompletionResult]::new('--from', '--from', [CompletionResultType]::ParameterName, 'Only requests from this client service')
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'Requests the selected services sent to this service (outbound view)')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kubeconfig context [default: the current context]')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the services and pods [default: the context''s namespace]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the services and pods [default: the context''s namespace]')
            [CompletionResult]::new('--controller-admin', '--controller-admin', [CompletionResultType]::ParameterName, 'The controller''s admin listener (http://HOST:PORT), for when the API server cannot proxy to it [default: the controller pods, through the API server''s pods/proxy]')
            [CompletionResult]::new('--controller-namespace', '--controller-namespace', [CompletionResultType]::ParameterName, 'The namespace `meshctl install` put the controller in')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('-w', '-w', [CompletionResultType]::ParameterName, 'Refresh every 2 s until Ctrl-C (NDJSON with -o json)')
            [CompletionResult]::new('--watch', '--watch', [CompletionResultType]::ParameterName, 'Refresh every 2 s until Ctrl-C (NDJSON with -o json)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;tap' {
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Tap one proxy at this tap address instead (a standalone `meshctl proxy --tap ADDR`, e.g. in benchmarks); needs --token-file')
            [CompletionResult]::new('--token-file', '--token-file', [CompletionResultType]::ParameterName, 'File with the token the proxy''s --tap-token-sha256 was made from [with --proxy]')
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'Only requests the service sends to this service')
            [CompletionResult]::new('--method', '--method', [CompletionResultType]::ParameterName, 'Only this request method')
            [CompletionResult]::new('--path', '--path', [CompletionResultType]::ParameterName, 'Only paths starting with this prefix')
            [CompletionResult]::new('--authority', '--authority', [CompletionResultType]::ParameterName, 'Only this :authority')
            [CompletionResult]::new('--status', '--status', [CompletionResultType]::ParameterName, 'Only requests whose response has this status (503) or class (5xx)')
            [CompletionResult]::new('--max-rps', '--max-rps', [CompletionResultType]::ParameterName, 'Requests per second each proxy sends at most')
            [CompletionResult]::new('--duration', '--duration', [CompletionResultType]::ParameterName, 'Stop after this long')
            [CompletionResult]::new('--max-events', '--max-events', [CompletionResultType]::ParameterName, 'Stop after printing this many events')
            [CompletionResult]::new('--body', '--body', [CompletionResultType]::ParameterName, 'Show the first SIZE bytes of request and response bodies (512, 512B, 1KiB; at most 64KiB)')
            [CompletionResult]::new('--har', '--har', [CompletionResultType]::ParameterName, 'Also write what was tapped to FILE as HAR 1.2 when the tap stops (bodies with --body)')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kubeconfig context [default: the current context]')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the services and pods [default: the context''s namespace]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the services and pods [default: the context''s namespace]')
            [CompletionResult]::new('--controller-admin', '--controller-admin', [CompletionResultType]::ParameterName, 'The controller''s admin listener (http://HOST:PORT), for when the API server cannot proxy to it [default: the controller pods, through the API server''s pods/proxy]')
            [CompletionResult]::new('--controller-namespace', '--controller-namespace', [CompletionResultType]::ParameterName, 'The namespace `meshctl install` put the controller in')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;replay' {
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'SERVICE or SERVICE/VERSION to send the requests to')
            [CompletionResult]::new('--from', '--from', [CompletionResultType]::ParameterName, 'The caller whose proxy sends them: a service, or an instance (`api.v1`)')
            [CompletionResult]::new('--rate', '--rate', [CompletionResultType]::ParameterName, 'Requests per second at most')
            [CompletionResult]::new('--diff', '--diff', [CompletionResultType]::ParameterName, 'Also send each request to this version of the service and compare the answers')
            [CompletionResult]::new('--ignore-header', '--ignore-header', [CompletionResultType]::ParameterName, 'A response header not to compare (repeatable; added to the per-request defaults)')
            [CompletionResult]::new('--ignore-field', '--ignore-field', [CompletionResultType]::ParameterName, 'A JSON body field not to compare, as a JSON pointer like /price_cents (repeatable)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;top' {
            [CompletionResult]::new('--max-rps', '--max-rps', [CompletionResultType]::ParameterName, 'Requests per second each proxy reports at most')
            [CompletionResult]::new('--duration', '--duration', [CompletionResultType]::ParameterName, 'Without a terminal: how long to watch before printing the snapshot')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kubeconfig context [default: the current context]')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the services and pods [default: the context''s namespace]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the services and pods [default: the context''s namespace]')
            [CompletionResult]::new('--controller-admin', '--controller-admin', [CompletionResultType]::ParameterName, 'The controller''s admin listener (http://HOST:PORT), for when the API server cannot proxy to it [default: the controller pods, through the API server''s pods/proxy]')
            [CompletionResult]::new('--controller-namespace', '--controller-namespace', [CompletionResultType]::ParameterName, 'The namespace `meshctl install` put the controller in')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;edges' {
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'Window to look back over (10s-5m)')
            [CompletionResult]::new('--window', '--window', [CompletionResultType]::ParameterName, 'Window to look back over (10s-5m)')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kubeconfig context [default: the current context]')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the services and pods [default: the context''s namespace]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the services and pods [default: the context''s namespace]')
            [CompletionResult]::new('--controller-admin', '--controller-admin', [CompletionResultType]::ParameterName, 'The controller''s admin listener (http://HOST:PORT), for when the API server cannot proxy to it [default: the controller pods, through the API server''s pods/proxy]')
            [CompletionResult]::new('--controller-namespace', '--controller-namespace', [CompletionResultType]::ParameterName, 'The namespace `meshctl install` put the controller in')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;explain' {
            [CompletionResult]::new('-H', '-H ', [CompletionResultType]::ParameterName, 'A request header, `NAME: VALUE` (repeatable)')
            [CompletionResult]::new('--header', '--header', [CompletionResultType]::ParameterName, 'A request header, `NAME: VALUE` (repeatable)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;canary' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('shift', 'shift', [CompletionResultType]::ParameterValue, 'Set the traffic split now: send --weight percent of SERVICE''s traffic to --to VERSION')
            [CompletionResult]::new('start', 'start', [CompletionResultType]::ParameterValue, 'Roll --to VERSION out step by step, gated on its own error rate and p99; roll back on breach')
            [CompletionResult]::new('promote', 'promote', [CompletionResultType]::ParameterValue, 'Give the rolling-out version 100% now and end its rollout')
            [CompletionResult]::new('abort', 'abort', [CompletionResultType]::ParameterValue, 'Send the rolling-out version back to 0% now and end its rollout')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show the configured split weights and every rollout (phase, weight, last check, history)')
            [CompletionResult]::new('mirror', 'mirror', [CompletionResultType]::ParameterValue, 'Copy a share of a service''s requests to a version and compare its answers, live')
            [CompletionResult]::new('diff', 'diff', [CompletionResultType]::ParameterValue, 'Show how mirrored requests'' answers compared with the real ones, per route')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'meshctl;canary;shift' {
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'The version that gets --weight')
            [CompletionResult]::new('--weight', '--weight', [CompletionResultType]::ParameterName, 'Percent of traffic for --to (0-100)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long --wait waits')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kubeconfig context [default: the current context]')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the services and pods [default: the context''s namespace]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the services and pods [default: the context''s namespace]')
            [CompletionResult]::new('--controller-admin', '--controller-admin', [CompletionResultType]::ParameterName, 'The controller''s admin listener (http://HOST:PORT), for when the API server cannot proxy to it [default: the controller pods, through the API server''s pods/proxy]')
            [CompletionResult]::new('--controller-namespace', '--controller-namespace', [CompletionResultType]::ParameterName, 'The namespace `meshctl install` put the controller in')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'Return only once every proxy calling the service acknowledged the new split')
            [CompletionResult]::new('--force-conflicts', '--force-conflicts', [CompletionResultType]::ParameterName, 'Kubernetes: take over the HTTPRoute fields another field manager owns')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;canary;start' {
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'The canary version')
            [CompletionResult]::new('--steps', '--steps', [CompletionResultType]::ParameterName, 'Canary weights in percent, increasing, each 1-100')
            [CompletionResult]::new('--interval', '--interval', [CompletionResultType]::ParameterName, 'Time between checks (at least 1s, at most 4m)')
            [CompletionResult]::new('--max-error-rate-increase', '--max-error-rate-increase', [CompletionResultType]::ParameterName, 'How far the canary''s error rate (answers >= 500) may exceed the stable versions'' over the same window, in percentage points: 1%, 0.5% (the default gate)')
            [CompletionResult]::new('--max-error-rate', '--max-error-rate', [CompletionResultType]::ParameterName, 'An absolute limit on the canary''s error rate as well, whatever the baseline does: 1%')
            [CompletionResult]::new('--max-p99', '--max-p99', [CompletionResultType]::ParameterName, 'Largest p99 latency the canary may show')
            [CompletionResult]::new('--min-requests', '--min-requests', [CompletionResultType]::ParameterName, 'Requests a check needs to pass, counted over the step so far (fewer: the step holds)')
            [CompletionResult]::new('--failure-threshold', '--failure-threshold', [CompletionResultType]::ParameterName, 'Failed checks that roll the canary back')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Time budget of the whole rollout (then --on-timeout applies)')
            [CompletionResult]::new('--on-timeout', '--on-timeout', [CompletionResultType]::ParameterName, 'When --timeout runs out: leave the weight (pause, exit 4) or send the canary back to 0% (rollback, exit 3)')
            [CompletionResult]::new('--match-header', '--match-header', [CompletionResultType]::ParameterName, 'Send requests with this header to the canary at every step, e.g. x-canary=1 (local mesh only)')
            [CompletionResult]::new('--max-mismatch', '--max-mismatch', [CompletionResultType]::ParameterName, 'With --gate-mirror: the share of compared copies that may differ, e.g. 1% or 0%')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kubeconfig context [default: the current context]')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the services and pods [default: the context''s namespace]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the services and pods [default: the context''s namespace]')
            [CompletionResult]::new('--controller-admin', '--controller-admin', [CompletionResultType]::ParameterName, 'The controller''s admin listener (http://HOST:PORT), for when the API server cannot proxy to it [default: the controller pods, through the API server''s pods/proxy]')
            [CompletionResult]::new('--controller-namespace', '--controller-namespace', [CompletionResultType]::ParameterName, 'The namespace `meshctl install` put the controller in')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--gate-mirror', '--gate-mirror', [CompletionResultType]::ParameterName, 'Before the first step, require mirrored copies to the canary (`canary mirror`, `policy.mirror`) to compare clean: at least --min-requests compared, at most --max-mismatch of them differing (local mesh only)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;canary;promote' {
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long to wait for every proxy calling the service to apply it')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kubeconfig context [default: the current context]')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the services and pods [default: the context''s namespace]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the services and pods [default: the context''s namespace]')
            [CompletionResult]::new('--controller-admin', '--controller-admin', [CompletionResultType]::ParameterName, 'The controller''s admin listener (http://HOST:PORT), for when the API server cannot proxy to it [default: the controller pods, through the API server''s pods/proxy]')
            [CompletionResult]::new('--controller-namespace', '--controller-namespace', [CompletionResultType]::ParameterName, 'The namespace `meshctl install` put the controller in')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;canary;abort' {
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long to wait for every proxy calling the service to apply it')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kubeconfig context [default: the current context]')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the services and pods [default: the context''s namespace]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the services and pods [default: the context''s namespace]')
            [CompletionResult]::new('--controller-admin', '--controller-admin', [CompletionResultType]::ParameterName, 'The controller''s admin listener (http://HOST:PORT), for when the API server cannot proxy to it [default: the controller pods, through the API server''s pods/proxy]')
            [CompletionResult]::new('--controller-namespace', '--controller-namespace', [CompletionResultType]::ParameterName, 'The namespace `meshctl install` put the controller in')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;canary;status' {
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kubeconfig context [default: the current context]')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the services and pods [default: the context''s namespace]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the services and pods [default: the context''s namespace]')
            [CompletionResult]::new('--controller-admin', '--controller-admin', [CompletionResultType]::ParameterName, 'The controller''s admin listener (http://HOST:PORT), for when the API server cannot proxy to it [default: the controller pods, through the API server''s pods/proxy]')
            [CompletionResult]::new('--controller-namespace', '--controller-namespace', [CompletionResultType]::ParameterName, 'The namespace `meshctl install` put the controller in')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;canary;mirror' {
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'The version copies go to')
            [CompletionResult]::new('--percent', '--percent', [CompletionResultType]::ParameterName, 'Share of requests copied: above 0 up to 100 (up to 4 decimals), e.g. 10 or 0.5%')
            [CompletionResult]::new('--for', '--for', [CompletionResultType]::ParameterName, 'End the mirror after this long (e.g. 30s, 10m); 0 keeps it until --off [default: 10m]')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long --wait waits')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kubeconfig context [default: the current context]')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the services and pods [default: the context''s namespace]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the services and pods [default: the context''s namespace]')
            [CompletionResult]::new('--controller-admin', '--controller-admin', [CompletionResultType]::ParameterName, 'The controller''s admin listener (http://HOST:PORT), for when the API server cannot proxy to it [default: the controller pods, through the API server''s pods/proxy]')
            [CompletionResult]::new('--controller-namespace', '--controller-namespace', [CompletionResultType]::ParameterName, 'The namespace `meshctl install` put the controller in')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--compare-body', '--compare-body', [CompletionResultType]::ParameterName, 'Also compare a SHA-256 of both bodies (when both are at most 64 KiB)')
            [CompletionResult]::new('--off', '--off', [CompletionResultType]::ParameterName, 'Remove SERVICE''s live mirror (its mesh.yaml `policy.mirror`, if any, applies again)')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'Return only once every proxy calling the service acknowledged the change')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;canary;diff' {
            [CompletionResult]::new('--max-mismatch', '--max-mismatch', [CompletionResultType]::ParameterName, 'Exit 3 when the mismatch rate is over this, e.g. 1% or 0%')
            [CompletionResult]::new('--min-compared', '--min-compared', [CompletionResultType]::ParameterName, 'Compared copies --max-mismatch needs before it can fail')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kubeconfig context [default: the current context]')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the services and pods [default: the context''s namespace]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the services and pods [default: the context''s namespace]')
            [CompletionResult]::new('--controller-admin', '--controller-admin', [CompletionResultType]::ParameterName, 'The controller''s admin listener (http://HOST:PORT), for when the API server cannot proxy to it [default: the controller pods, through the API server''s pods/proxy]')
            [CompletionResult]::new('--controller-namespace', '--controller-namespace', [CompletionResultType]::ParameterName, 'The namespace `meshctl install` put the controller in')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;canary;help' {
            [CompletionResult]::new('shift', 'shift', [CompletionResultType]::ParameterValue, 'Set the traffic split now: send --weight percent of SERVICE''s traffic to --to VERSION')
            [CompletionResult]::new('start', 'start', [CompletionResultType]::ParameterValue, 'Roll --to VERSION out step by step, gated on its own error rate and p99; roll back on breach')
            [CompletionResult]::new('promote', 'promote', [CompletionResultType]::ParameterValue, 'Give the rolling-out version 100% now and end its rollout')
            [CompletionResult]::new('abort', 'abort', [CompletionResultType]::ParameterValue, 'Send the rolling-out version back to 0% now and end its rollout')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show the configured split weights and every rollout (phase, weight, last check, history)')
            [CompletionResult]::new('mirror', 'mirror', [CompletionResultType]::ParameterValue, 'Copy a share of a service''s requests to a version and compare its answers, live')
            [CompletionResult]::new('diff', 'diff', [CompletionResultType]::ParameterValue, 'Show how mirrored requests'' answers compared with the real ones, per route')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'meshctl;canary;help;shift' {
            break
        }
        'meshctl;canary;help;start' {
            break
        }
        'meshctl;canary;help;promote' {
            break
        }
        'meshctl;canary;help;abort' {
            break
        }
        'meshctl;canary;help;status' {
            break
        }
        'meshctl;canary;help;mirror' {
            break
        }
        'meshctl;canary;help;diff' {
            break
        }
        'meshctl;canary;help;help' {
            break
        }
        'meshctl;fault' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('inject', 'inject', [CompletionResultType]::ParameterValue, 'Inject aborts and/or delays into requests to a service, now')
            [CompletionResult]::new('clear', 'clear', [CompletionResultType]::ParameterValue, 'Remove a service''s live fault')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'Show every fault: live ones and those in mesh.yaml, and which are in force')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'meshctl;fault;inject' {
            [CompletionResult]::new('--abort', '--abort', [CompletionResultType]::ParameterName, 'Answer STATUS (400-599) to PERCENT of requests (0-100, up to 4 decimals), e.g. 503@5%')
            [CompletionResult]::new('--delay', '--delay', [CompletionResultType]::ParameterName, 'Hold PERCENT of requests for DURATION (1ms-60s) before forwarding, e.g. 200ms@10%')
            [CompletionResult]::new('--for', '--for', [CompletionResultType]::ParameterName, 'End the fault after this long (e.g. 30s, 2m); 0 keeps it until `fault clear` [default: 10m, so a forgotten fault does not outlive the experiment]')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long --wait waits')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kubeconfig context [default: the current context]')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the services and pods [default: the context''s namespace]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the services and pods [default: the context''s namespace]')
            [CompletionResult]::new('--controller-admin', '--controller-admin', [CompletionResultType]::ParameterName, 'The controller''s admin listener (http://HOST:PORT), for when the API server cannot proxy to it [default: the controller pods, through the API server''s pods/proxy]')
            [CompletionResult]::new('--controller-namespace', '--controller-namespace', [CompletionResultType]::ParameterName, 'The namespace `meshctl install` put the controller in')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'Return only once every proxy calling the service acknowledged the change')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;fault;clear' {
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long --wait waits')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kubeconfig context [default: the current context]')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the services and pods [default: the context''s namespace]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the services and pods [default: the context''s namespace]')
            [CompletionResult]::new('--controller-admin', '--controller-admin', [CompletionResultType]::ParameterName, 'The controller''s admin listener (http://HOST:PORT), for when the API server cannot proxy to it [default: the controller pods, through the API server''s pods/proxy]')
            [CompletionResult]::new('--controller-namespace', '--controller-namespace', [CompletionResultType]::ParameterName, 'The namespace `meshctl install` put the controller in')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'Return only once every proxy calling the service acknowledged the change')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;fault;list' {
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kubeconfig context [default: the current context]')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the services and pods [default: the context''s namespace]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the services and pods [default: the context''s namespace]')
            [CompletionResult]::new('--controller-admin', '--controller-admin', [CompletionResultType]::ParameterName, 'The controller''s admin listener (http://HOST:PORT), for when the API server cannot proxy to it [default: the controller pods, through the API server''s pods/proxy]')
            [CompletionResult]::new('--controller-namespace', '--controller-namespace', [CompletionResultType]::ParameterName, 'The namespace `meshctl install` put the controller in')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;fault;help' {
            [CompletionResult]::new('inject', 'inject', [CompletionResultType]::ParameterValue, 'Inject aborts and/or delays into requests to a service, now')
            [CompletionResult]::new('clear', 'clear', [CompletionResultType]::ParameterValue, 'Remove a service''s live fault')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'Show every fault: live ones and those in mesh.yaml, and which are in force')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'meshctl;fault;help;inject' {
            break
        }
        'meshctl;fault;help;clear' {
            break
        }
        'meshctl;fault;help;list' {
            break
        }
        'meshctl;fault;help;help' {
            break
        }
        'meshctl;gateway' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('keys', 'keys', [CompletionResultType]::ParameterValue, 'Manage the gateway''s API keys')
            [CompletionResult]::new('reload', 'reload', [CompletionResultType]::ParameterValue, 'Apply mesh.yaml''s edited `gateway:` (routes, limits, keys file, certificate) to the running mesh''s gateway, without dropping a connection')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'meshctl;gateway;keys' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Create a key named NAME and print it (stdout; shown this once, only its hash is kept)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the keys: name, when created, active or revoked (never the keys)')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke the active key NAME: from then on it is answered 403 (kept, so it is told apart from an unknown key)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'meshctl;gateway;keys;add' {
            [CompletionResult]::new('--keys-file', '--keys-file', [CompletionResultType]::ParameterName, 'The key file (mesh.yaml''s `gateway.keys_file`); created by the first `add`')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;gateway;keys;list' {
            [CompletionResult]::new('--keys-file', '--keys-file', [CompletionResultType]::ParameterName, 'The key file (mesh.yaml''s `gateway.keys_file`); created by the first `add`')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;gateway;keys;revoke' {
            [CompletionResult]::new('--keys-file', '--keys-file', [CompletionResultType]::ParameterName, 'The key file (mesh.yaml''s `gateway.keys_file`); created by the first `add`')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;gateway;keys;help' {
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Create a key named NAME and print it (stdout; shown this once, only its hash is kept)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the keys: name, when created, active or revoked (never the keys)')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke the active key NAME: from then on it is answered 403 (kept, so it is told apart from an unknown key)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'meshctl;gateway;keys;help;add' {
            break
        }
        'meshctl;gateway;keys;help;list' {
            break
        }
        'meshctl;gateway;keys;help;revoke' {
            break
        }
        'meshctl;gateway;keys;help;help' {
            break
        }
        'meshctl;gateway;reload' {
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'The mesh file')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'The mesh file')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;gateway;help' {
            [CompletionResult]::new('keys', 'keys', [CompletionResultType]::ParameterValue, 'Manage the gateway''s API keys')
            [CompletionResult]::new('reload', 'reload', [CompletionResultType]::ParameterValue, 'Apply mesh.yaml''s edited `gateway:` (routes, limits, keys file, certificate) to the running mesh''s gateway, without dropping a connection')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'meshctl;gateway;help;keys' {
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Create a key named NAME and print it (stdout; shown this once, only its hash is kept)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the keys: name, when created, active or revoked (never the keys)')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke the active key NAME: from then on it is answered 403 (kept, so it is told apart from an unknown key)')
            break
        }
        'meshctl;gateway;help;keys;add' {
            break
        }
        'meshctl;gateway;help;keys;list' {
            break
        }
        'meshctl;gateway;help;keys;revoke' {
            break
        }
        'meshctl;gateway;help;reload' {
            break
        }
        'meshctl;gateway;help;help' {
            break
        }
        'meshctl;certs' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('init', 'init', [CompletionResultType]::ParameterValue, 'Create the trust anchor (root CA) and the issuer (intermediate CA) in the state dir')
            [CompletionResult]::new('issue', 'issue', [CompletionResultType]::ParameterValue, 'Issue a workload certificate (X.509-SVID) and write tls.crt, tls.key and ca.crt to a directory')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show anchor, issuer and issued leaves with their expiry')
            [CompletionResult]::new('inspect', 'inspect', [CompletionResultType]::ParameterValue, 'Explain a PEM certificate or chain and check it against the X.509-SVID rules')
            [CompletionResult]::new('rotate', 'rotate', [CompletionResultType]::ParameterValue, 'Rotate the issuer or the trust anchor of a running mesh without downtime')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'meshctl;certs;init' {
            [CompletionResult]::new('--trust-domain', '--trust-domain', [CompletionResultType]::ParameterName, 'Trust domain of the mesh (the host part of every SPIFFE ID)')
            [CompletionResult]::new('--anchor-lifetime', '--anchor-lifetime', [CompletionResultType]::ParameterName, 'Lifetime of the trust anchor')
            [CompletionResult]::new('--issuer-lifetime', '--issuer-lifetime', [CompletionResultType]::ParameterName, 'Lifetime of the issuer (at most the anchor''s)')
            [CompletionResult]::new('--issuer-cert', '--issuer-cert', [CompletionResultType]::ParameterName, 'Use an organisation''s CA as the issuer: its certificate (PEM), optionally followed by the root it chains to; the root becomes the only trust anchor')
            [CompletionResult]::new('--issuer-key', '--issuer-key', [CompletionResultType]::ParameterName, 'The external issuer''s private key (PEM, not readable by other users)')
            [CompletionResult]::new('--anchor-cert', '--anchor-cert', [CompletionResultType]::ParameterName, 'The root the external issuer chains to, when --issuer-cert does not include it')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Replace an existing CA (every certificate it issued stops verifying)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;certs;issue' {
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'Directory to write tls.crt (leaf + issuer), tls.key (0600) and ca.crt (trust bundle)')
            [CompletionResult]::new('--lifetime', '--lifetime', [CompletionResultType]::ParameterName, 'Lifetime of the leaf: at least 1m, at most what is left of the issuer''s')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;certs;status' {
            [CompletionResult]::new('--fail-within', '--fail-within', [CompletionResultType]::ParameterName, 'Exit 3 if any certificate expires within this duration (e.g. 30d)')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kubeconfig context [default: the current context]')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the services and pods [default: the context''s namespace]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the services and pods [default: the context''s namespace]')
            [CompletionResult]::new('--controller-admin', '--controller-admin', [CompletionResultType]::ParameterName, 'The controller''s admin listener (http://HOST:PORT), for when the API server cannot proxy to it [default: the controller pods, through the API server''s pods/proxy]')
            [CompletionResult]::new('--controller-namespace', '--controller-namespace', [CompletionResultType]::ParameterName, 'The namespace `meshctl install` put the controller in')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;certs;inspect' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;certs;rotate' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('issuer', 'issuer', [CompletionResultType]::ParameterValue, 'New issuer under the current anchor; every proxy renews its leaf from it at once')
            [CompletionResult]::new('anchor', 'anchor', [CompletionResultType]::ParameterValue, 'New trust anchor: add it, re-issue every leaf under it, drop the old one (resumable)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'meshctl;certs;rotate;issuer' {
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long each waiting step may take before the rotation stops (exit 4)')
            [CompletionResult]::new('--issuer-lifetime', '--issuer-lifetime', [CompletionResultType]::ParameterName, 'Lifetime of the new issuer (capped at what is left of its anchor)')
            [CompletionResult]::new('--identity-dir', '--identity-dir', [CompletionResultType]::ParameterName, 'On Kubernetes: the CA `meshctl install` saved (the directory holding identity/, with the trust anchor''s key) [default: ./meshctl-identity]')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kubeconfig context [default: the current context]')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the services and pods [default: the context''s namespace]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the services and pods [default: the context''s namespace]')
            [CompletionResult]::new('--controller-admin', '--controller-admin', [CompletionResultType]::ParameterName, 'The controller''s admin listener (http://HOST:PORT), for when the API server cannot proxy to it [default: the controller pods, through the API server''s pods/proxy]')
            [CompletionResult]::new('--controller-namespace', '--controller-namespace', [CompletionResultType]::ParameterName, 'The namespace `meshctl install` put the controller in')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;certs;rotate;anchor' {
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long each waiting step may take before the rotation stops (exit 4)')
            [CompletionResult]::new('--issuer-lifetime', '--issuer-lifetime', [CompletionResultType]::ParameterName, 'Lifetime of the new issuer (capped at what is left of its anchor)')
            [CompletionResult]::new('--identity-dir', '--identity-dir', [CompletionResultType]::ParameterName, 'On Kubernetes: the CA `meshctl install` saved (the directory holding identity/, with the trust anchor''s key) [default: ./meshctl-identity]')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kubeconfig context [default: the current context]')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the services and pods [default: the context''s namespace]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the services and pods [default: the context''s namespace]')
            [CompletionResult]::new('--controller-admin', '--controller-admin', [CompletionResultType]::ParameterName, 'The controller''s admin listener (http://HOST:PORT), for when the API server cannot proxy to it [default: the controller pods, through the API server''s pods/proxy]')
            [CompletionResult]::new('--controller-namespace', '--controller-namespace', [CompletionResultType]::ParameterName, 'The namespace `meshctl install` put the controller in')
            [CompletionResult]::new('--anchor-lifetime', '--anchor-lifetime', [CompletionResultType]::ParameterName, 'Lifetime of the new trust anchor')
            [CompletionResult]::new('--until', '--until', [CompletionResultType]::ParameterName, 'Stop after this step and continue later with --resume: add-anchor, await-bundle, new-issuer, await-leaves or drop-anchor')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Print the steps that would run (from the checkpoint with --resume) and change nothing')
            [CompletionResult]::new('--resume', '--resume', [CompletionResultType]::ParameterName, 'Continue the interrupted rotation from its checkpoint (.meshctl/rotation.json; on Kubernetes the ConfigMap meshctl-rotation)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;certs;rotate;help' {
            [CompletionResult]::new('issuer', 'issuer', [CompletionResultType]::ParameterValue, 'New issuer under the current anchor; every proxy renews its leaf from it at once')
            [CompletionResult]::new('anchor', 'anchor', [CompletionResultType]::ParameterValue, 'New trust anchor: add it, re-issue every leaf under it, drop the old one (resumable)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'meshctl;certs;rotate;help;issuer' {
            break
        }
        'meshctl;certs;rotate;help;anchor' {
            break
        }
        'meshctl;certs;rotate;help;help' {
            break
        }
        'meshctl;certs;help' {
            [CompletionResult]::new('init', 'init', [CompletionResultType]::ParameterValue, 'Create the trust anchor (root CA) and the issuer (intermediate CA) in the state dir')
            [CompletionResult]::new('issue', 'issue', [CompletionResultType]::ParameterValue, 'Issue a workload certificate (X.509-SVID) and write tls.crt, tls.key and ca.crt to a directory')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show anchor, issuer and issued leaves with their expiry')
            [CompletionResult]::new('inspect', 'inspect', [CompletionResultType]::ParameterValue, 'Explain a PEM certificate or chain and check it against the X.509-SVID rules')
            [CompletionResult]::new('rotate', 'rotate', [CompletionResultType]::ParameterValue, 'Rotate the issuer or the trust anchor of a running mesh without downtime')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'meshctl;certs;help;init' {
            break
        }
        'meshctl;certs;help;issue' {
            break
        }
        'meshctl;certs;help;status' {
            break
        }
        'meshctl;certs;help;inspect' {
            break
        }
        'meshctl;certs;help;rotate' {
            [CompletionResult]::new('issuer', 'issuer', [CompletionResultType]::ParameterValue, 'New issuer under the current anchor; every proxy renews its leaf from it at once')
            [CompletionResult]::new('anchor', 'anchor', [CompletionResultType]::ParameterValue, 'New trust anchor: add it, re-issue every leaf under it, drop the old one (resumable)')
            break
        }
        'meshctl;certs;help;rotate;issuer' {
            break
        }
        'meshctl;certs;help;rotate;anchor' {
            break
        }
        'meshctl;certs;help;help' {
            break
        }
        'meshctl;install' {
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the control plane')
            [CompletionResult]::new('--image', '--image', [CompletionResultType]::ParameterName, 'Image of the controller (meshctl''s static binary; see the Containerfile)')
            [CompletionResult]::new('--trust-domain', '--trust-domain', [CompletionResultType]::ParameterName, 'Trust domain of a new CA (default mesh.local), or the one the given CA must have')
            [CompletionResult]::new('--identity-dir', '--identity-dir', [CompletionResultType]::ParameterName, 'Use this CA (as `meshctl certs init` or a previous install wrote it: DIR holds identity/)')
            [CompletionResult]::new('--issuer-cert', '--issuer-cert', [CompletionResultType]::ParameterName, 'An organisation''s issuer certificate (PEM; may be followed by its chain up to the root)')
            [CompletionResult]::new('--issuer-key', '--issuer-key', [CompletionResultType]::ParameterName, 'The issuer''s private key (PEM)')
            [CompletionResult]::new('--anchor-cert', '--anchor-cert', [CompletionResultType]::ParameterName, 'The root the issuer chains to (the mesh''s trust anchor), unless --issuer-cert ends with it')
            [CompletionResult]::new('--save-identity', '--save-identity', [CompletionResultType]::ParameterName, 'Where a new CA is saved (its trust anchor key never goes into the cluster)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Have the API server validate and admit without storing')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long --wait waits')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kubeconfig context [default: the current context]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--ha', '--ha', [CompletionResultType]::ParameterName, 'Three controller replicas spread over nodes, with a PodDisruptionBudget')
            [CompletionResult]::new('--discard-anchor-key', '--discard-anchor-key', [CompletionResultType]::ParameterName, 'Make a new CA without saving its anchor key: the issuer can never be renewed under it')
            [CompletionResult]::new('--crds', '--crds', [CompletionResultType]::ParameterName, 'Also install the Gateway API HTTPRoute CRD (skip it when Gateway API is installed)')
            [CompletionResult]::new('--apply', '--apply', [CompletionResultType]::ParameterName, 'Apply the manifests to the cluster (server-side apply) instead of printing them')
            [CompletionResult]::new('--force-conflicts', '--force-conflicts', [CompletionResultType]::ParameterName, 'Take over fields another field manager owns')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'Wait until the controller Deployment is Available')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;uninstall' {
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long to wait for the deleted objects to be gone')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kubeconfig context [default: the current context]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--apply', '--apply', [CompletionResultType]::ParameterName, 'Delete the objects (default: only list them)')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Delete even while meshed pods exist')
            [CompletionResult]::new('--crds', '--crds', [CompletionResultType]::ParameterName, 'Also delete the HTTPRoute CRD if meshctl installed it')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;inject' {
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Manifests to read: a file, or - for standard input')
            [CompletionResult]::new('--filename', '--filename', [CompletionResultType]::ParameterName, 'Manifests to read: a file, or - for standard input')
            [CompletionResult]::new('--image', '--image', [CompletionResultType]::ParameterName, 'The sidecar''s image (the meshctl binary, as the controller''s)')
            [CompletionResult]::new('--control-plane-namespace', '--control-plane-namespace', [CompletionResultType]::ParameterName, 'The namespace the control plane was installed in (`meshctl install --namespace`)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;uninject' {
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Manifests to read: a file, or - for standard input')
            [CompletionResult]::new('--filename', '--filename', [CompletionResultType]::ParameterName, 'Manifests to read: a file, or - for standard input')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;check' {
            [CompletionResult]::new('--fail-on', '--fail-on', [CompletionResultType]::ParameterName, 'Exit 1 when a check reaches this severity')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'With --kube: the mesh''s namespace')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kubeconfig context [default: the current context]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--certs', '--certs', [CompletionResultType]::ParameterName, 'Only the certificate checks (the CA, and the proxies'' leaves and bundles if a mesh runs): no mesh needed')
            [CompletionResult]::new('--kube', '--kube', [CompletionResultType]::ParameterName, 'Check the Kubernetes cluster''s install instead of the local mesh')
            [CompletionResult]::new('--pre', '--pre', [CompletionResultType]::ParameterName, 'With --kube: before install (permissions, a free namespace), not the running controller')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;controller' {
            [CompletionResult]::new('--leaf-lifetime', '--leaf-lifetime', [CompletionResultType]::ParameterName, 'Lifetime of the workload certificates it issues to proxies')
            [CompletionResult]::new('--trust-domain', '--trust-domain', [CompletionResultType]::ParameterName, 'The mesh''s trust domain [--kube]')
            [CompletionResult]::new('--issuer-dir', '--issuer-dir', [CompletionResultType]::ParameterName, 'Directory with the issuer: tls.crt, tls.key and ca.crt (the mounted issuer Secret) [--kube]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'The controller''s own namespace [--kube]')
            [CompletionResult]::new('--grpc-listen', '--grpc-listen', [CompletionResultType]::ParameterName, 'gRPC-over-TLS listener proxies connect to [--kube]')
            [CompletionResult]::new('--webhook-listen', '--webhook-listen', [CompletionResultType]::ParameterName, 'Admission webhook listener (HTTPS) [--kube]')
            [CompletionResult]::new('--admin-listen', '--admin-listen', [CompletionResultType]::ParameterName, 'Admin listener: /live, /ready, /metrics [--kube]')
            [CompletionResult]::new('--tls-san', '--tls-san', [CompletionResultType]::ParameterName, 'Another DNS name or IP address for the serving certificate, beyond the controller Service''s names (repeatable) [--kube]')
            [CompletionResult]::new('--image', '--image', [CompletionResultType]::ParameterName, 'The sidecar image the webhook injects [--kube]')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kubeconfig context [default: the current context]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--kube', '--kube', [CompletionResultType]::ParameterName, 'Serve a Kubernetes cluster: the catalog from the API server, proxies authenticated by service-account tokens (what `meshctl install` runs)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;prometheus-config' {
            [CompletionResult]::new('--job-name', '--job-name', [CompletionResultType]::ParameterName, 'The scrape job''s name (Prometheus'' `job` label)')
            [CompletionResult]::new('--interval', '--interval', [CompletionResultType]::ParameterName, 'How often Prometheus scrapes each proxy (whole seconds)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;completion' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;version' {
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kubeconfig context [default: the current context]')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the services and pods [default: the context''s namespace]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the services and pods [default: the context''s namespace]')
            [CompletionResult]::new('--controller-admin', '--controller-admin', [CompletionResultType]::ParameterName, 'The controller''s admin listener (http://HOST:PORT), for when the API server cannot proxy to it [default: the controller pods, through the API server''s pods/proxy]')
            [CompletionResult]::new('--controller-namespace', '--controller-namespace', [CompletionResultType]::ParameterName, 'The namespace `meshctl install` put the controller in')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--client', '--client', [CompletionResultType]::ParameterName, 'Only the client''s version: do not look for a control plane')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;proxy' {
            [CompletionResult]::new('--identity-dir', '--identity-dir', [CompletionResultType]::ParameterName, 'Directory with tls.crt, tls.key and ca.crt (as `meshctl certs issue` writes them); watched, and reloaded when they change')
            [CompletionResult]::new('--inbound', '--inbound', [CompletionResultType]::ParameterName, 'Accept mTLS on LISTEN and forward to the local app: LISTEN=[PROTO://]APP')
            [CompletionResult]::new('--upstream', '--upstream', [CompletionResultType]::ParameterName, 'Accept plaintext from the app on LISTEN, forward over mTLS to PEER, which must present SPIFFE_ID: LISTEN=[PROTO://]PEER#SPIFFE_ID')
            [CompletionResult]::new('--admin', '--admin', [CompletionResultType]::ParameterName, 'Admin listener (/metrics, /ready, /live) [default: 127.0.0.1:4191]')
            [CompletionResult]::new('--workers', '--workers', [CompletionResultType]::ParameterName, 'Worker threads (1 = a single-threaded runtime) [default: 1]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'YAML config file (see examples/); flags add listeners and override its settings')
            [CompletionResult]::new('--control-plane', '--control-plane', [CompletionResultType]::ParameterName, 'Get the certificate and the upstreams from a control plane instead of --identity-dir and --upstream: a Unix socket path (what `meshctl up` does), or https://HOST:PORT in a cluster (with --trust-bundle; plain http:// is refused)')
            [CompletionResult]::new('--token-file', '--token-file', [CompletionResultType]::ParameterName, 'File holding this proxy''s bootstrap token: read once, mode 0600 (socket); read again for every call, so a rotated service-account token is followed (https) [control-plane mode]')
            [CompletionResult]::new('--spiffe-id', '--spiffe-id', [CompletionResultType]::ParameterName, 'The SPIFFE ID this proxy asks the control plane for: required with a socket; with https the identity the token attests is assigned when this is absent [control-plane mode]')
            [CompletionResult]::new('--trust-bundle', '--trust-bundle', [CompletionResultType]::ParameterName, 'PEM bundle the https control plane''s certificate must chain to (re-read at every reconnection) [https control plane only]')
            [CompletionResult]::new('--upstream-service', '--upstream-service', [CompletionResultType]::ParameterName, 'Serve the upstream SERVICE to the app on LISTEN, whatever listener the control plane names for it (repeatable); an upstream with no listener from either is skipped [https control plane only]')
            [CompletionResult]::new('--http-proxy', '--http-proxy', [CompletionResultType]::ParameterName, 'Plaintext HTTP proxy listener for the app''s HTTP_PROXY: routes `http://<service>/…` to that upstream [control-plane mode]')
            [CompletionResult]::new('--gateway', '--gateway', [CompletionResultType]::ParameterName, 'Also serve the gateway — external clients into mesh services — that FILE describes (JSON; `meshctl up` writes it from mesh.yaml''s `gateway:`); re-read with its key file and certificate when they change [control-plane mode]')
            [CompletionResult]::new('--tap', '--tap', [CompletionResultType]::ParameterName, 'Serve the tap API (`meshctl tap`) on this loopback address')
            [CompletionResult]::new('--tap-token-sha256', '--tap-token-sha256', [CompletionResultType]::ParameterName, 'SHA-256 (hex) of the token tap callers must present as bearer (the mesh admin token)')
            [CompletionResult]::new('--tap-mtls', '--tap-mtls', [CompletionResultType]::ParameterName, 'Serve the tap API on ADDR over mutual TLS 1.3 with this proxy''s certificate, to the --tap-client identity only (how the cluster controller taps sidecars; no token) [https control plane only]')
            [CompletionResult]::new('--tap-client', '--tap-client', [CompletionResultType]::ParameterName, 'The one client of --tap-mtls: NAMESPACE/SERVICEACCOUNT of the controller, in this proxy''s trust domain')
            [CompletionResult]::new('--tap-redact', '--tap-redact', [CompletionResultType]::ParameterName, 'Also redact this header in tap events (repeatable; authorization, proxy-authorization, cookie, set-cookie and x-api-key always are)')
            [CompletionResult]::new('--otlp-endpoint', '--otlp-endpoint', [CompletionResultType]::ParameterName, 'Export a span per request to this OTLP collector and take part in W3C trace context: http://HOST:PORT, or https://HOST[:PORT] with --otlp-ca-file; for http/protobuf a base path may follow (/v1/traces is appended). Off by default')
            [CompletionResult]::new('--otlp-protocol', '--otlp-protocol', [CompletionResultType]::ParameterName, 'How spans travel to --otlp-endpoint: grpc or http/protobuf [default: grpc]')
            [CompletionResult]::new('--otlp-ca-file', '--otlp-ca-file', [CompletionResultType]::ParameterName, 'PEM file with the CA certificate(s) an https collector''s certificate must chain to (and name its host); no public CAs are trusted otherwise')
            [CompletionResult]::new('--otlp-header', '--otlp-header', [CompletionResultType]::ParameterName, 'Send this header with every export, e.g. authorization=Bearer… (repeatable). Seen in the process list: MESHCTL_OTLP_HEADERS=name=value,… (values percent-encoded) or `otlp_headers` in --config keep it out')
            [CompletionResult]::new('--trace-sample', '--trace-sample', [CompletionResultType]::ParameterName, 'Share of new traces (requests without a traceparent) recorded, in percent, up to 4 decimals [default: 100]; a caller''s sampling decision is always followed')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;generate' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Write completion scripts for bash, zsh, fish and powershell into DIR')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Write one man page per command and subcommand into DIR')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'meshctl;generate;completions' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'dir')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;generate;man' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'dir')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;generate;help' {
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Write completion scripts for bash, zsh, fish and powershell into DIR')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Write one man page per command and subcommand into DIR')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'meshctl;generate;help;completions' {
            break
        }
        'meshctl;generate;help;man' {
            break
        }
        'meshctl;generate;help;help' {
            break
        }
        'meshctl;demo-app' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('web', 'web', [CompletionResultType]::ParameterValue, 'HTTP frontend: `GET /` asks api for a quote and names the api version that answered')
            [CompletionResult]::new('api', 'api', [CompletionResultType]::ParameterValue, 'HTTP JSON API: `GET /api/quote?symbol=X` calls quotes over gRPC')
            [CompletionResult]::new('quotes', 'quotes', [CompletionResultType]::ParameterValue, 'gRPC Quotes server (GetQuote, StreamQuotes)')
            [CompletionResult]::new('load', 'load', [CompletionResultType]::ParameterValue, 'Steady HTTP GET traffic to a loopback URL; a summary on stderr every 10 s and at the end')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'meshctl;demo-app;web' {
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Address to listen on, loopback only; port 0 picks a free port. The bound address is printed as the first line on stdout')
            [CompletionResult]::new('--api', '--api', [CompletionResultType]::ParameterName, 'Where api listens (the caller''s outbound proxy listener in a mesh)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;demo-app;api' {
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Address to listen on, loopback only; port 0 picks a free port. The bound address is printed as the first line on stdout')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Version this instance reports (`served_by`, `version`)')
            [CompletionResult]::new('--quotes', '--quotes', [CompletionResultType]::ParameterName, 'Where quotes listens (gRPC over h2c)')
            [CompletionResult]::new('--latency-ms', '--latency-ms', [CompletionResultType]::ParameterName, 'Typical latency added to each request, in milliseconds (1% take ten times longer)')
            [CompletionResult]::new('--error-rate', '--error-rate', [CompletionResultType]::ParameterName, 'Share of requests that fail, from 0 to 1')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'meshctl;demo-app;quotes' {
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Address to listen on, loopback only; port 0 picks a free port. The bound address is printed as the first line on stdout')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Version this instance reports in `served_by`')
            [CompletionResult]::new('--latency-ms', '--latency-ms', [CompletionResultType]::ParameterName, 'Typical latency added to each request, in milliseconds (1% take ten times longer)')
            [CompletionResult]::new('--error-rate', '--error-rate', [CompletionResultType]::ParameterName, 'Share of requests that fail, from 0 to 1')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'meshctl;demo-app;load' {
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'URL to GET (loopback only), e.g. http://127.0.0.1:8080/')
            [CompletionResult]::new('--rps', '--rps', [CompletionResultType]::ParameterName, 'Requests per second')
            [CompletionResult]::new('--duration', '--duration', [CompletionResultType]::ParameterName, 'Stop after this long [default: until SIGTERM or Ctrl-C]')
            [CompletionResult]::new('--requests', '--requests', [CompletionResultType]::ParameterName, 'Stop after this many requests')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of read commands')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory [default: nearest .meshctl/ from the current directory upward]')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl''s --request-timeout)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;demo-app;help' {
            [CompletionResult]::new('web', 'web', [CompletionResultType]::ParameterValue, 'HTTP frontend: `GET /` asks api for a quote and names the api version that answered')
            [CompletionResult]::new('api', 'api', [CompletionResultType]::ParameterValue, 'HTTP JSON API: `GET /api/quote?symbol=X` calls quotes over gRPC')
            [CompletionResult]::new('quotes', 'quotes', [CompletionResultType]::ParameterValue, 'gRPC Quotes server (GetQuote, StreamQuotes)')
            [CompletionResult]::new('load', 'load', [CompletionResultType]::ParameterValue, 'Steady HTTP GET traffic to a loopback URL; a summary on stderr every 10 s and at the end')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'meshctl;demo-app;help;web' {
            break
        }
        'meshctl;demo-app;help;api' {
            break
        }
        'meshctl;demo-app;help;quotes' {
            break
        }
        'meshctl;demo-app;help;load' {
            break
        }
        'meshctl;demo-app;help;help' {
            break
        }
        'meshctl;help' {
            [CompletionResult]::new('up', 'up', [CompletionResultType]::ParameterValue, 'Run a whole mesh from mesh.yaml on this machine: control plane, proxies, apps')
            [CompletionResult]::new('demo', 'demo', [CompletionResultType]::ParameterValue, 'Run the built-in demo mesh (the same as `meshctl up --demo`)')
            [CompletionResult]::new('down', 'down', [CompletionResultType]::ParameterValue, 'Stop the mesh `meshctl up --detach` started')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show what runs in the mesh (local, or the meshed pods on Kubernetes) and whether it is healthy')
            [CompletionResult]::new('stat', 'stat', [CompletionResultType]::ParameterValue, 'Golden metrics per service and version: success rate, RPS, latency percentiles')
            [CompletionResult]::new('tap', 'tap', [CompletionResultType]::ParameterValue, 'Live requests through a service''s proxies: request, response and end of each')
            [CompletionResult]::new('replay', 'replay', [CompletionResultType]::ParameterValue, 'Send a HAR file''s requests again through a meshed caller, to one version or two compared')
            [CompletionResult]::new('top', 'top', [CompletionResultType]::ParameterValue, 'The busiest routes (source, destination, method, path), live; q quits')
            [CompletionResult]::new('edges', 'edges', [CompletionResultType]::ParameterValue, 'Who talks to whom: client and server identities and whether the hop was mTLS')
            [CompletionResult]::new('explain', 'explain', [CompletionResultType]::ParameterValue, 'What the mesh would do with one request, and why (a dry run on the live proxies)')
            [CompletionResult]::new('canary', 'canary', [CompletionResultType]::ParameterValue, 'Shift traffic between a service''s versions (weighted splits)')
            [CompletionResult]::new('fault', 'fault', [CompletionResultType]::ParameterValue, 'Inject aborts and delays into a service''s traffic (chaos testing), clear and list them')
            [CompletionResult]::new('gateway', 'gateway', [CompletionResultType]::ParameterValue, 'The mesh''s entry for external clients (declared in mesh.yaml): manage its API keys')
            [CompletionResult]::new('certs', 'certs', [CompletionResultType]::ParameterValue, 'Manage the mesh certificate authority and workload certificates')
            [CompletionResult]::new('install', 'install', [CompletionResultType]::ParameterValue, 'Install the mesh''s control plane in a Kubernetes cluster (print or apply the manifests)')
            [CompletionResult]::new('uninstall', 'uninstall', [CompletionResultType]::ParameterValue, 'Remove what `meshctl install` created from a Kubernetes cluster')
            [CompletionResult]::new('inject', 'inject', [CompletionResultType]::ParameterValue, 'Add the sidecar to Kubernetes manifests (Pods, Deployments, Jobs, …) read from a file or stdin')
            [CompletionResult]::new('uninject', 'uninject', [CompletionResultType]::ParameterValue, 'Remove what `meshctl inject` added')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Check the local mesh''s health: control plane, proxies, apps, certificates (or with --kube the cluster''s): √ ‼ ×, with a hint each')
            [CompletionResult]::new('controller', 'controller', [CompletionResultType]::ParameterValue, 'Run the control plane of a local mesh (started for you by `meshctl up`), or with --kube of a cluster (what `meshctl install` deploys)')
            [CompletionResult]::new('prometheus-config', 'prometheus-config', [CompletionResultType]::ParameterValue, 'Print a Prometheus scrape job for the local mesh''s proxies (file_sd, kept current by `up`)')
            [CompletionResult]::new('completion', 'completion', [CompletionResultType]::ParameterValue, 'Print the shell completion script for bash, zsh, fish or powershell')
            [CompletionResult]::new('version', 'version', [CompletionResultType]::ParameterValue, 'Print the client''s version and the control plane''s (the local mesh''s, or every controller replica''s on Kubernetes)')
            [CompletionResult]::new('proxy', 'proxy', [CompletionResultType]::ParameterValue, 'Run the sidecar proxy (mTLS data plane)')
            [CompletionResult]::new('generate', 'generate', [CompletionResultType]::ParameterValue, 'Generate shell completions and man pages (for packagers)')
            [CompletionResult]::new('demo-app', 'demo-app', [CompletionResultType]::ParameterValue, 'Run one role of the built-in demo application (launched by `meshctl up --demo`)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'meshctl;help;up' {
            break
        }
        'meshctl;help;demo' {
            break
        }
        'meshctl;help;down' {
            break
        }
        'meshctl;help;status' {
            break
        }
        'meshctl;help;stat' {
            break
        }
        'meshctl;help;tap' {
            break
        }
        'meshctl;help;replay' {
            break
        }
        'meshctl;help;top' {
            break
        }
        'meshctl;help;edges' {
            break
        }
        'meshctl;help;explain' {
            break
        }
        'meshctl;help;canary' {
            [CompletionResult]::new('shift', 'shift', [CompletionResultType]::ParameterValue, 'Set the traffic split now: send --weight percent of SERVICE''s traffic to --to VERSION')
            [CompletionResult]::new('start', 'start', [CompletionResultType]::ParameterValue, 'Roll --to VERSION out step by step, gated on its own error rate and p99; roll back on breach')
            [CompletionResult]::new('promote', 'promote', [CompletionResultType]::ParameterValue, 'Give the rolling-out version 100% now and end its rollout')
            [CompletionResult]::new('abort', 'abort', [CompletionResultType]::ParameterValue, 'Send the rolling-out version back to 0% now and end its rollout')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show the configured split weights and every rollout (phase, weight, last check, history)')
            [CompletionResult]::new('mirror', 'mirror', [CompletionResultType]::ParameterValue, 'Copy a share of a service''s requests to a version and compare its answers, live')
            [CompletionResult]::new('diff', 'diff', [CompletionResultType]::ParameterValue, 'Show how mirrored requests'' answers compared with the real ones, per route')
            break
        }
        'meshctl;help;canary;shift' {
            break
        }
        'meshctl;help;canary;start' {
            break
        }
        'meshctl;help;canary;promote' {
            break
        }
        'meshctl;help;canary;abort' {
            break
        }
        'meshctl;help;canary;status' {
            break
        }
        'meshctl;help;canary;mirror' {
            break
        }
        'meshctl;help;canary;diff' {
            break
        }
        'meshctl;help;fault' {
            [CompletionResult]::new('inject', 'inject', [CompletionResultType]::ParameterValue, 'Inject aborts and/or delays into requests to a service, now')
            [CompletionResult]::new('clear', 'clear', [CompletionResultType]::ParameterValue, 'Remove a service''s live fault')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'Show every fault: live ones and those in mesh.yaml, and which are in force')
            break
        }
        'meshctl;help;fault;inject' {
            break
        }
        'meshctl;help;fault;clear' {
            break
        }
        'meshctl;help;fault;list' {
            break
        }
        'meshctl;help;gateway' {
            [CompletionResult]::new('keys', 'keys', [CompletionResultType]::ParameterValue, 'Manage the gateway''s API keys')
            [CompletionResult]::new('reload', 'reload', [CompletionResultType]::ParameterValue, 'Apply mesh.yaml''s edited `gateway:` (routes, limits, keys file, certificate) to the running mesh''s gateway, without dropping a connection')
            break
        }
        'meshctl;help;gateway;keys' {
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Create a key named NAME and print it (stdout; shown this once, only its hash is kept)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the keys: name, when created, active or revoked (never the keys)')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke the active key NAME: from then on it is answered 403 (kept, so it is told apart from an unknown key)')
            break
        }
        'meshctl;help;gateway;keys;add' {
            break
        }
        'meshctl;help;gateway;keys;list' {
            break
        }
        'meshctl;help;gateway;keys;revoke' {
            break
        }
        'meshctl;help;gateway;reload' {
            break
        }
        'meshctl;help;certs' {
            [CompletionResult]::new('init', 'init', [CompletionResultType]::ParameterValue, 'Create the trust anchor (root CA) and the issuer (intermediate CA) in the state dir')
            [CompletionResult]::new('issue', 'issue', [CompletionResultType]::ParameterValue, 'Issue a workload certificate (X.509-SVID) and write tls.crt, tls.key and ca.crt to a directory')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show anchor, issuer and issued leaves with their expiry')
            [CompletionResult]::new('inspect', 'inspect', [CompletionResultType]::ParameterValue, 'Explain a PEM certificate or chain and check it against the X.509-SVID rules')
            [CompletionResult]::new('rotate', 'rotate', [CompletionResultType]::ParameterValue, 'Rotate the issuer or the trust anchor of a running mesh without downtime')
            break
        }
        'meshctl;help;certs;init' {
            break
        }
        'meshctl;help;certs;issue' {
            break
        }
        'meshctl;help;certs;status' {
            break
        }
        'meshctl;help;certs;inspect' {
            break
        }
        'meshctl;help;certs;rotate' {
            [CompletionResult]::new('issuer', 'issuer', [CompletionResultType]::ParameterValue, 'New issuer under the current anchor; every proxy renews its leaf from it at once')
            [CompletionResult]::new('anchor', 'anchor', [CompletionResultType]::ParameterValue, 'New trust anchor: add it, re-issue every leaf under it, drop the old one (resumable)')
            break
        }
        'meshctl;help;certs;rotate;issuer' {
            break
        }
        'meshctl;help;certs;rotate;anchor' {
            break
        }
        'meshctl;help;install' {
            break
        }
        'meshctl;help;uninstall' {
            break
        }
        'meshctl;help;inject' {
            break
        }
        'meshctl;help;uninject' {
            break
        }
        'meshctl;help;check' {
            break
        }
        'meshctl;help;controller' {
            break
        }
        'meshctl;help;prometheus-config' {
            break
        }
        'meshctl;help;completion' {
            break
        }
        'meshctl;help;version' {
            break
        }
        'meshctl;help;proxy' {
            break
        }
        'meshctl;help;generate' {
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Write completion scripts for bash, zsh, fish and powershell into DIR')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Write one man page per command and subcommand into DIR')
            break
        }
        'meshctl;help;generate;completions' {
            break
        }
        'meshctl;help;generate;man' {
            break
        }
        'meshctl;help;demo-app' {
            [CompletionResult]::new('web', 'web', [CompletionResultType]::ParameterValue, 'HTTP frontend: `GET /` asks api for a quote and names the api version that answered')
            [CompletionResult]::new('api', 'api', [CompletionResultType]::ParameterValue, 'HTTP JSON API: `GET /api/quote?symbol=X` calls quotes over gRPC')
            [CompletionResult]::new('quotes', 'quotes', [CompletionResultType]::ParameterValue, 'gRPC Quotes server (GetQuote, StreamQuotes)')
            [CompletionResult]::new('load', 'load', [CompletionResultType]::ParameterValue, 'Steady HTTP GET traffic to a loopback URL; a summary on stderr every 10 s and at the end')
            break
        }
        'meshctl;help;demo-app;web' {
            break
        }
        'meshctl;help;demo-app;api' {
            break
        }
        'meshctl;help;demo-app;quotes' {
            break
        }
        'meshctl;help;demo-app;load' {
            break
        }
        'meshctl;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
