# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_meshctl_global_optspecs
    string join \n o/output= no-color v/verbose state-dir= target= request-timeout= h/help V/version
end

function __fish_meshctl_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_meshctl_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_meshctl_using_subcommand
    set -l cmd (__fish_meshctl_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c meshctl -n "__fish_meshctl_needs_command" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_needs_command" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_needs_command" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_needs_command" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_needs_command" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_needs_command" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_needs_command" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "up" -d 'Run a whole mesh from mesh.yaml on this machine: control plane, proxies, apps'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "demo" -d 'Run the built-in demo mesh (the same as `meshctl up --demo`)'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "down" -d 'Stop the mesh `meshctl up --detach` started'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "status" -d 'Show what runs in the mesh (local, or the meshed pods on Kubernetes) and whether it is healthy'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "stat" -d 'Golden metrics per service and version: success rate, RPS, latency percentiles'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "tap" -d 'Live requests through a service\'s proxies: request, response and end of each'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "replay" -d 'Send a HAR file\'s requests again through a meshed caller, to one version or two compared'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "top" -d 'The busiest routes (source, destination, method, path), live; q quits'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "edges" -d 'Who talks to whom: client and server identities and whether the hop was mTLS'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "explain" -d 'What the mesh would do with one request, and why (a dry run on the live proxies)'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "canary" -d 'Shift traffic between a service\'s versions (weighted splits)'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "fault" -d 'Inject aborts and delays into a service\'s traffic (chaos testing), clear and list them'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "gateway" -d 'The mesh\'s entry for external clients (declared in mesh.yaml): manage its API keys'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "certs" -d 'Manage the mesh certificate authority and workload certificates'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "install" -d 'Install the mesh\'s control plane in a Kubernetes cluster (print or apply the manifests)'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "uninstall" -d 'Remove what `meshctl install` created from a Kubernetes cluster'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "inject" -d 'Add the sidecar to Kubernetes manifests (Pods, Deployments, Jobs, …) read from a file or stdin'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "uninject" -d 'Remove what `meshctl inject` added'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "check" -d 'Check the local mesh\'s health: control plane, proxies, apps, certificates (or with --kube the cluster\'s): √ ‼ ×, with a hint each'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "controller" -d 'Run the control plane of a local mesh (started for you by `meshctl up`), or with --kube of a cluster (what `meshctl install` deploys)'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "prometheus-config" -d 'Print a Prometheus scrape job for the local mesh\'s proxies (file_sd, kept current by `up`)'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "completion" -d 'Print the shell completion script for bash, zsh, fish or powershell'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "version" -d 'Print the client\'s version and the control plane\'s (the local mesh\'s, or every controller replica\'s on Kubernetes)'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "proxy" -d 'Run the sidecar proxy (mTLS data plane)'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "generate" -d 'Generate shell completions and man pages (for packagers)'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "demo-app" -d 'Run one role of the built-in demo application (launched by `meshctl up --demo`)'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c meshctl -n "__fish_meshctl_using_subcommand up" -s f -l file -d 'The mesh description' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand up" -l v2-error-rate -d 'With --demo: the share of requests api v2 fails (both versions fail 2% by default), e.g. 30% to watch `canary start` roll a broken v2 back' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand up" -l leaf-lifetime -d 'Lifetime of the proxies\' workload certificates (renewed at 70%)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand up" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_using_subcommand up" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand up" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand up" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand up" -l demo -d 'Run the built-in demo (web → api v1/v2 → quotes over gRPC, with a load generator)'
complete -c meshctl -n "__fish_meshctl_using_subcommand up" -l detach -d 'Start in the background and return once ready (`meshctl down` stops it)'
complete -c meshctl -n "__fish_meshctl_using_subcommand up" -l reset-state -d 'Discard the saved traffic state (splits.json, faults.json, canary-routes.json are moved aside to <file>.discarded) and start from mesh.yaml alone'
complete -c meshctl -n "__fish_meshctl_using_subcommand up" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_using_subcommand up" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_using_subcommand up" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand up" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand demo" -l v2-error-rate -d 'The share of requests api v2 fails (both versions fail 2% by default), e.g. 30% to watch `canary start` roll a broken v2 back' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand demo" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_using_subcommand demo" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand demo" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand demo" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand demo" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_using_subcommand demo" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_using_subcommand demo" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand demo" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand down" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_using_subcommand down" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand down" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand down" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand down" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_using_subcommand down" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_using_subcommand down" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand down" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand status" -l kubeconfig -d 'Kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand status" -l context -d 'Kubeconfig context [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand status" -s n -l namespace -d 'Namespace of the services and pods [default: the context\'s namespace]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand status" -l controller-admin -d 'The controller\'s admin listener (http://HOST:PORT), for when the API server cannot proxy to it [default: the controller pods, through the API server\'s pods/proxy]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand status" -l controller-namespace -d 'The namespace `meshctl install` put the controller in' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand status" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_using_subcommand status" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand status" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand status" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand status" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_using_subcommand status" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_using_subcommand status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand status" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand stat" -s t -l window -d 'Window the figures cover (10s-5m)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand stat" -l from -d 'Only requests from this client service' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand stat" -l to -d 'Requests the selected services sent to this service (outbound view)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand stat" -l kubeconfig -d 'Kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand stat" -l context -d 'Kubeconfig context [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand stat" -s n -l namespace -d 'Namespace of the services and pods [default: the context\'s namespace]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand stat" -l controller-admin -d 'The controller\'s admin listener (http://HOST:PORT), for when the API server cannot proxy to it [default: the controller pods, through the API server\'s pods/proxy]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand stat" -l controller-namespace -d 'The namespace `meshctl install` put the controller in' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand stat" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_using_subcommand stat" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand stat" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand stat" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand stat" -s w -l watch -d 'Refresh every 2 s until Ctrl-C (NDJSON with -o json)'
complete -c meshctl -n "__fish_meshctl_using_subcommand stat" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_using_subcommand stat" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_using_subcommand stat" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand stat" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand tap" -l proxy -d 'Tap one proxy at this tap address instead (a standalone `meshctl proxy --tap ADDR`, e.g. in benchmarks); needs --token-file' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand tap" -l token-file -d 'File with the token the proxy\'s --tap-token-sha256 was made from [with --proxy]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand tap" -l to -d 'Only requests the service sends to this service' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand tap" -l method -d 'Only this request method' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand tap" -l path -d 'Only paths starting with this prefix' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand tap" -l authority -d 'Only this :authority' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand tap" -l status -d 'Only requests whose response has this status (503) or class (5xx)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand tap" -l max-rps -d 'Requests per second each proxy sends at most' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand tap" -l duration -d 'Stop after this long' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand tap" -l max-events -d 'Stop after printing this many events' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand tap" -l body -d 'Show the first SIZE bytes of request and response bodies (512, 512B, 1KiB; at most 64KiB)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand tap" -l har -d 'Also write what was tapped to FILE as HAR 1.2 when the tap stops (bodies with --body)' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand tap" -l kubeconfig -d 'Kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand tap" -l context -d 'Kubeconfig context [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand tap" -s n -l namespace -d 'Namespace of the services and pods [default: the context\'s namespace]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand tap" -l controller-admin -d 'The controller\'s admin listener (http://HOST:PORT), for when the API server cannot proxy to it [default: the controller pods, through the API server\'s pods/proxy]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand tap" -l controller-namespace -d 'The namespace `meshctl install` put the controller in' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand tap" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_using_subcommand tap" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand tap" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand tap" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand tap" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_using_subcommand tap" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_using_subcommand tap" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand tap" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand replay" -l to -d 'SERVICE or SERVICE/VERSION to send the requests to' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand replay" -l from -d 'The caller whose proxy sends them: a service, or an instance (`api.v1`)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand replay" -l rate -d 'Requests per second at most' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand replay" -l diff -d 'Also send each request to this version of the service and compare the answers' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand replay" -l ignore-header -d 'A response header not to compare (repeatable; added to the per-request defaults)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand replay" -l ignore-field -d 'A JSON body field not to compare, as a JSON pointer like /price_cents (repeatable)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand replay" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_using_subcommand replay" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand replay" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand replay" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand replay" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_using_subcommand replay" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_using_subcommand replay" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand replay" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand top" -l max-rps -d 'Requests per second each proxy reports at most' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand top" -l duration -d 'Without a terminal: how long to watch before printing the snapshot' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand top" -l kubeconfig -d 'Kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand top" -l context -d 'Kubeconfig context [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand top" -s n -l namespace -d 'Namespace of the services and pods [default: the context\'s namespace]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand top" -l controller-admin -d 'The controller\'s admin listener (http://HOST:PORT), for when the API server cannot proxy to it [default: the controller pods, through the API server\'s pods/proxy]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand top" -l controller-namespace -d 'The namespace `meshctl install` put the controller in' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand top" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_using_subcommand top" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand top" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand top" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand top" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_using_subcommand top" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_using_subcommand top" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand top" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand edges" -s t -l window -d 'Window to look back over (10s-5m)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand edges" -l kubeconfig -d 'Kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand edges" -l context -d 'Kubeconfig context [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand edges" -s n -l namespace -d 'Namespace of the services and pods [default: the context\'s namespace]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand edges" -l controller-admin -d 'The controller\'s admin listener (http://HOST:PORT), for when the API server cannot proxy to it [default: the controller pods, through the API server\'s pods/proxy]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand edges" -l controller-namespace -d 'The namespace `meshctl install` put the controller in' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand edges" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_using_subcommand edges" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand edges" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand edges" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand edges" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_using_subcommand edges" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_using_subcommand edges" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand edges" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand explain" -s H -l header -d 'A request header, `NAME: VALUE` (repeatable)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand explain" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_using_subcommand explain" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand explain" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand explain" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand explain" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_using_subcommand explain" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_using_subcommand explain" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand explain" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and not __fish_seen_subcommand_from shift start promote abort status mirror diff help" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and not __fish_seen_subcommand_from shift start promote abort status mirror diff help" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and not __fish_seen_subcommand_from shift start promote abort status mirror diff help" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and not __fish_seen_subcommand_from shift start promote abort status mirror diff help" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and not __fish_seen_subcommand_from shift start promote abort status mirror diff help" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and not __fish_seen_subcommand_from shift start promote abort status mirror diff help" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and not __fish_seen_subcommand_from shift start promote abort status mirror diff help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and not __fish_seen_subcommand_from shift start promote abort status mirror diff help" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and not __fish_seen_subcommand_from shift start promote abort status mirror diff help" -f -a "shift" -d 'Set the traffic split now: send --weight percent of SERVICE\'s traffic to --to VERSION'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and not __fish_seen_subcommand_from shift start promote abort status mirror diff help" -f -a "start" -d 'Roll --to VERSION out step by step, gated on its own error rate and p99; roll back on breach'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and not __fish_seen_subcommand_from shift start promote abort status mirror diff help" -f -a "promote" -d 'Give the rolling-out version 100% now and end its rollout'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and not __fish_seen_subcommand_from shift start promote abort status mirror diff help" -f -a "abort" -d 'Send the rolling-out version back to 0% now and end its rollout'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and not __fish_seen_subcommand_from shift start promote abort status mirror diff help" -f -a "status" -d 'Show the configured split weights and every rollout (phase, weight, last check, history)'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and not __fish_seen_subcommand_from shift start promote abort status mirror diff help" -f -a "mirror" -d 'Copy a share of a service\'s requests to a version and compare its answers, live'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and not __fish_seen_subcommand_from shift start promote abort status mirror diff help" -f -a "diff" -d 'Show how mirrored requests\' answers compared with the real ones, per route'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and not __fish_seen_subcommand_from shift start promote abort status mirror diff help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from shift" -l to -d 'The version that gets --weight' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from shift" -l weight -d 'Percent of traffic for --to (0-100)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from shift" -l timeout -d 'How long --wait waits' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from shift" -l kubeconfig -d 'Kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from shift" -l context -d 'Kubeconfig context [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from shift" -s n -l namespace -d 'Namespace of the services and pods [default: the context\'s namespace]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from shift" -l controller-admin -d 'The controller\'s admin listener (http://HOST:PORT), for when the API server cannot proxy to it [default: the controller pods, through the API server\'s pods/proxy]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from shift" -l controller-namespace -d 'The namespace `meshctl install` put the controller in' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from shift" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from shift" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from shift" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from shift" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from shift" -l wait -d 'Return only once every proxy calling the service acknowledged the new split'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from shift" -l force-conflicts -d 'Kubernetes: take over the HTTPRoute fields another field manager owns'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from shift" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from shift" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from shift" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from shift" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from start" -l to -d 'The canary version' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from start" -l steps -d 'Canary weights in percent, increasing, each 1-100' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from start" -l interval -d 'Time between checks (at least 1s, at most 4m)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from start" -l max-error-rate-increase -d 'How far the canary\'s error rate (answers >= 500) may exceed the stable versions\' over the same window, in percentage points: 1%, 0.5% (the default gate)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from start" -l max-error-rate -d 'An absolute limit on the canary\'s error rate as well, whatever the baseline does: 1%' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from start" -l max-p99 -d 'Largest p99 latency the canary may show' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from start" -l min-requests -d 'Requests a check needs to pass, counted over the step so far (fewer: the step holds)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from start" -l failure-threshold -d 'Failed checks that roll the canary back' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from start" -l timeout -d 'Time budget of the whole rollout (then --on-timeout applies)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from start" -l on-timeout -d 'When --timeout runs out: leave the weight (pause, exit 4) or send the canary back to 0% (rollback, exit 3)' -r -f -a "pause\t'Leave the weight where it is (phase Paused; exit 4): resume with `start`, or end it with `canary promote|abort`'
rollback\t'Send the canary back to 0% (a `rolled-back` event by `timeout`; exit 3)'"
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from start" -l match-header -d 'Send requests with this header to the canary at every step, e.g. x-canary=1 (local mesh only)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from start" -l max-mismatch -d 'With --gate-mirror: the share of compared copies that may differ, e.g. 1% or 0%' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from start" -l kubeconfig -d 'Kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from start" -l context -d 'Kubeconfig context [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from start" -s n -l namespace -d 'Namespace of the services and pods [default: the context\'s namespace]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from start" -l controller-admin -d 'The controller\'s admin listener (http://HOST:PORT), for when the API server cannot proxy to it [default: the controller pods, through the API server\'s pods/proxy]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from start" -l controller-namespace -d 'The namespace `meshctl install` put the controller in' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from start" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from start" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from start" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from start" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from start" -l gate-mirror -d 'Before the first step, require mirrored copies to the canary (`canary mirror`, `policy.mirror`) to compare clean: at least --min-requests compared, at most --max-mismatch of them differing (local mesh only)'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from start" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from start" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from start" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from start" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from promote" -l timeout -d 'How long to wait for every proxy calling the service to apply it' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from promote" -l kubeconfig -d 'Kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from promote" -l context -d 'Kubeconfig context [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from promote" -s n -l namespace -d 'Namespace of the services and pods [default: the context\'s namespace]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from promote" -l controller-admin -d 'The controller\'s admin listener (http://HOST:PORT), for when the API server cannot proxy to it [default: the controller pods, through the API server\'s pods/proxy]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from promote" -l controller-namespace -d 'The namespace `meshctl install` put the controller in' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from promote" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from promote" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from promote" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from promote" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from promote" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from promote" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from promote" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from promote" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from abort" -l timeout -d 'How long to wait for every proxy calling the service to apply it' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from abort" -l kubeconfig -d 'Kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from abort" -l context -d 'Kubeconfig context [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from abort" -s n -l namespace -d 'Namespace of the services and pods [default: the context\'s namespace]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from abort" -l controller-admin -d 'The controller\'s admin listener (http://HOST:PORT), for when the API server cannot proxy to it [default: the controller pods, through the API server\'s pods/proxy]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from abort" -l controller-namespace -d 'The namespace `meshctl install` put the controller in' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from abort" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from abort" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from abort" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from abort" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from abort" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from abort" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from abort" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from abort" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from status" -l kubeconfig -d 'Kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from status" -l context -d 'Kubeconfig context [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from status" -s n -l namespace -d 'Namespace of the services and pods [default: the context\'s namespace]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from status" -l controller-admin -d 'The controller\'s admin listener (http://HOST:PORT), for when the API server cannot proxy to it [default: the controller pods, through the API server\'s pods/proxy]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from status" -l controller-namespace -d 'The namespace `meshctl install` put the controller in' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from status" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from status" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from status" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from status" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from status" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from status" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from status" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from mirror" -l to -d 'The version copies go to' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from mirror" -l percent -d 'Share of requests copied: above 0 up to 100 (up to 4 decimals), e.g. 10 or 0.5%' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from mirror" -l for -d 'End the mirror after this long (e.g. 30s, 10m); 0 keeps it until --off [default: 10m]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from mirror" -l timeout -d 'How long --wait waits' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from mirror" -l kubeconfig -d 'Kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from mirror" -l context -d 'Kubeconfig context [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from mirror" -s n -l namespace -d 'Namespace of the services and pods [default: the context\'s namespace]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from mirror" -l controller-admin -d 'The controller\'s admin listener (http://HOST:PORT), for when the API server cannot proxy to it [default: the controller pods, through the API server\'s pods/proxy]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from mirror" -l controller-namespace -d 'The namespace `meshctl install` put the controller in' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from mirror" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from mirror" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from mirror" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from mirror" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from mirror" -l compare-body -d 'Also compare a SHA-256 of both bodies (when both are at most 64 KiB)'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from mirror" -l off -d 'Remove SERVICE\'s live mirror (its mesh.yaml `policy.mirror`, if any, applies again)'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from mirror" -l wait -d 'Return only once every proxy calling the service acknowledged the change'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from mirror" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from mirror" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from mirror" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from mirror" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from diff" -l max-mismatch -d 'Exit 3 when the mismatch rate is over this, e.g. 1% or 0%' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from diff" -l min-compared -d 'Compared copies --max-mismatch needs before it can fail' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from diff" -l kubeconfig -d 'Kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from diff" -l context -d 'Kubeconfig context [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from diff" -s n -l namespace -d 'Namespace of the services and pods [default: the context\'s namespace]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from diff" -l controller-admin -d 'The controller\'s admin listener (http://HOST:PORT), for when the API server cannot proxy to it [default: the controller pods, through the API server\'s pods/proxy]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from diff" -l controller-namespace -d 'The namespace `meshctl install` put the controller in' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from diff" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from diff" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from diff" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from diff" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from diff" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from diff" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from diff" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from diff" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from help" -f -a "shift" -d 'Set the traffic split now: send --weight percent of SERVICE\'s traffic to --to VERSION'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from help" -f -a "start" -d 'Roll --to VERSION out step by step, gated on its own error rate and p99; roll back on breach'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from help" -f -a "promote" -d 'Give the rolling-out version 100% now and end its rollout'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from help" -f -a "abort" -d 'Send the rolling-out version back to 0% now and end its rollout'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from help" -f -a "status" -d 'Show the configured split weights and every rollout (phase, weight, last check, history)'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from help" -f -a "mirror" -d 'Copy a share of a service\'s requests to a version and compare its answers, live'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from help" -f -a "diff" -d 'Show how mirrored requests\' answers compared with the real ones, per route'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and not __fish_seen_subcommand_from inject clear list help" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and not __fish_seen_subcommand_from inject clear list help" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and not __fish_seen_subcommand_from inject clear list help" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and not __fish_seen_subcommand_from inject clear list help" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and not __fish_seen_subcommand_from inject clear list help" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and not __fish_seen_subcommand_from inject clear list help" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and not __fish_seen_subcommand_from inject clear list help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and not __fish_seen_subcommand_from inject clear list help" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and not __fish_seen_subcommand_from inject clear list help" -f -a "inject" -d 'Inject aborts and/or delays into requests to a service, now'
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and not __fish_seen_subcommand_from inject clear list help" -f -a "clear" -d 'Remove a service\'s live fault'
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and not __fish_seen_subcommand_from inject clear list help" -f -a "list" -d 'Show every fault: live ones and those in mesh.yaml, and which are in force'
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and not __fish_seen_subcommand_from inject clear list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from inject" -l abort -d 'Answer STATUS (400-599) to PERCENT of requests (0-100, up to 4 decimals), e.g. 503@5%' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from inject" -l delay -d 'Hold PERCENT of requests for DURATION (1ms-60s) before forwarding, e.g. 200ms@10%' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from inject" -l for -d 'End the fault after this long (e.g. 30s, 2m); 0 keeps it until `fault clear` [default: 10m, so a forgotten fault does not outlive the experiment]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from inject" -l timeout -d 'How long --wait waits' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from inject" -l kubeconfig -d 'Kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from inject" -l context -d 'Kubeconfig context [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from inject" -s n -l namespace -d 'Namespace of the services and pods [default: the context\'s namespace]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from inject" -l controller-admin -d 'The controller\'s admin listener (http://HOST:PORT), for when the API server cannot proxy to it [default: the controller pods, through the API server\'s pods/proxy]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from inject" -l controller-namespace -d 'The namespace `meshctl install` put the controller in' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from inject" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from inject" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from inject" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from inject" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from inject" -l wait -d 'Return only once every proxy calling the service acknowledged the change'
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from inject" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from inject" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from inject" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from inject" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from clear" -l timeout -d 'How long --wait waits' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from clear" -l kubeconfig -d 'Kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from clear" -l context -d 'Kubeconfig context [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from clear" -s n -l namespace -d 'Namespace of the services and pods [default: the context\'s namespace]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from clear" -l controller-admin -d 'The controller\'s admin listener (http://HOST:PORT), for when the API server cannot proxy to it [default: the controller pods, through the API server\'s pods/proxy]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from clear" -l controller-namespace -d 'The namespace `meshctl install` put the controller in' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from clear" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from clear" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from clear" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from clear" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from clear" -l wait -d 'Return only once every proxy calling the service acknowledged the change'
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from clear" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from clear" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from clear" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from clear" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from list" -l kubeconfig -d 'Kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from list" -l context -d 'Kubeconfig context [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from list" -s n -l namespace -d 'Namespace of the services and pods [default: the context\'s namespace]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from list" -l controller-admin -d 'The controller\'s admin listener (http://HOST:PORT), for when the API server cannot proxy to it [default: the controller pods, through the API server\'s pods/proxy]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from list" -l controller-namespace -d 'The namespace `meshctl install` put the controller in' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from list" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from list" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from list" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from list" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from list" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from help" -f -a "inject" -d 'Inject aborts and/or delays into requests to a service, now'
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from help" -f -a "clear" -d 'Remove a service\'s live fault'
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from help" -f -a "list" -d 'Show every fault: live ones and those in mesh.yaml, and which are in force'
complete -c meshctl -n "__fish_meshctl_using_subcommand fault; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c meshctl -n "__fish_meshctl_using_subcommand gateway; and not __fish_seen_subcommand_from keys reload help" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_using_subcommand gateway; and not __fish_seen_subcommand_from keys reload help" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand gateway; and not __fish_seen_subcommand_from keys reload help" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand gateway; and not __fish_seen_subcommand_from keys reload help" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand gateway; and not __fish_seen_subcommand_from keys reload help" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_using_subcommand gateway; and not __fish_seen_subcommand_from keys reload help" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_using_subcommand gateway; and not __fish_seen_subcommand_from keys reload help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand gateway; and not __fish_seen_subcommand_from keys reload help" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand gateway; and not __fish_seen_subcommand_from keys reload help" -f -a "keys" -d 'Manage the gateway\'s API keys'
complete -c meshctl -n "__fish_meshctl_using_subcommand gateway; and not __fish_seen_subcommand_from keys reload help" -f -a "reload" -d 'Apply mesh.yaml\'s edited `gateway:` (routes, limits, keys file, certificate) to the running mesh\'s gateway, without dropping a connection'
complete -c meshctl -n "__fish_meshctl_using_subcommand gateway; and not __fish_seen_subcommand_from keys reload help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c meshctl -n "__fish_meshctl_using_subcommand gateway; and __fish_seen_subcommand_from keys" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_using_subcommand gateway; and __fish_seen_subcommand_from keys" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand gateway; and __fish_seen_subcommand_from keys" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand gateway; and __fish_seen_subcommand_from keys" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand gateway; and __fish_seen_subcommand_from keys" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_using_subcommand gateway; and __fish_seen_subcommand_from keys" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_using_subcommand gateway; and __fish_seen_subcommand_from keys" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand gateway; and __fish_seen_subcommand_from keys" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand gateway; and __fish_seen_subcommand_from keys" -f -a "add" -d 'Create a key named NAME and print it (stdout; shown this once, only its hash is kept)'
complete -c meshctl -n "__fish_meshctl_using_subcommand gateway; and __fish_seen_subcommand_from keys" -f -a "list" -d 'List the keys: name, when created, active or revoked (never the keys)'
complete -c meshctl -n "__fish_meshctl_using_subcommand gateway; and __fish_seen_subcommand_from keys" -f -a "revoke" -d 'Revoke the active key NAME: from then on it is answered 403 (kept, so it is told apart from an unknown key)'
complete -c meshctl -n "__fish_meshctl_using_subcommand gateway; and __fish_seen_subcommand_from keys" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c meshctl -n "__fish_meshctl_using_subcommand gateway; and __fish_seen_subcommand_from reload" -s f -l file -d 'The mesh file' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand gateway; and __fish_seen_subcommand_from reload" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_using_subcommand gateway; and __fish_seen_subcommand_from reload" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand gateway; and __fish_seen_subcommand_from reload" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand gateway; and __fish_seen_subcommand_from reload" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand gateway; and __fish_seen_subcommand_from reload" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_using_subcommand gateway; and __fish_seen_subcommand_from reload" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_using_subcommand gateway; and __fish_seen_subcommand_from reload" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand gateway; and __fish_seen_subcommand_from reload" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand gateway; and __fish_seen_subcommand_from help" -f -a "keys" -d 'Manage the gateway\'s API keys'
complete -c meshctl -n "__fish_meshctl_using_subcommand gateway; and __fish_seen_subcommand_from help" -f -a "reload" -d 'Apply mesh.yaml\'s edited `gateway:` (routes, limits, keys file, certificate) to the running mesh\'s gateway, without dropping a connection'
complete -c meshctl -n "__fish_meshctl_using_subcommand gateway; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and not __fish_seen_subcommand_from init issue status inspect rotate help" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and not __fish_seen_subcommand_from init issue status inspect rotate help" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and not __fish_seen_subcommand_from init issue status inspect rotate help" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and not __fish_seen_subcommand_from init issue status inspect rotate help" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and not __fish_seen_subcommand_from init issue status inspect rotate help" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and not __fish_seen_subcommand_from init issue status inspect rotate help" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and not __fish_seen_subcommand_from init issue status inspect rotate help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and not __fish_seen_subcommand_from init issue status inspect rotate help" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and not __fish_seen_subcommand_from init issue status inspect rotate help" -f -a "init" -d 'Create the trust anchor (root CA) and the issuer (intermediate CA) in the state dir'
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and not __fish_seen_subcommand_from init issue status inspect rotate help" -f -a "issue" -d 'Issue a workload certificate (X.509-SVID) and write tls.crt, tls.key and ca.crt to a directory'
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and not __fish_seen_subcommand_from init issue status inspect rotate help" -f -a "status" -d 'Show anchor, issuer and issued leaves with their expiry'
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and not __fish_seen_subcommand_from init issue status inspect rotate help" -f -a "inspect" -d 'Explain a PEM certificate or chain and check it against the X.509-SVID rules'
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and not __fish_seen_subcommand_from init issue status inspect rotate help" -f -a "rotate" -d 'Rotate the issuer or the trust anchor of a running mesh without downtime'
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and not __fish_seen_subcommand_from init issue status inspect rotate help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from init" -l trust-domain -d 'Trust domain of the mesh (the host part of every SPIFFE ID)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from init" -l anchor-lifetime -d 'Lifetime of the trust anchor' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from init" -l issuer-lifetime -d 'Lifetime of the issuer (at most the anchor\'s)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from init" -l issuer-cert -d 'Use an organisation\'s CA as the issuer: its certificate (PEM), optionally followed by the root it chains to; the root becomes the only trust anchor' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from init" -l issuer-key -d 'The external issuer\'s private key (PEM, not readable by other users)' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from init" -l anchor-cert -d 'The root the external issuer chains to, when --issuer-cert does not include it' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from init" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from init" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from init" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from init" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from init" -l force -d 'Replace an existing CA (every certificate it issued stops verifying)'
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from init" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from init" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from init" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from init" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from issue" -l out -d 'Directory to write tls.crt (leaf + issuer), tls.key (0600) and ca.crt (trust bundle)' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from issue" -l lifetime -d 'Lifetime of the leaf: at least 1m, at most what is left of the issuer\'s' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from issue" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from issue" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from issue" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from issue" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from issue" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from issue" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from issue" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from issue" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from status" -l fail-within -d 'Exit 3 if any certificate expires within this duration (e.g. 30d)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from status" -l kubeconfig -d 'Kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from status" -l context -d 'Kubeconfig context [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from status" -s n -l namespace -d 'Namespace of the services and pods [default: the context\'s namespace]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from status" -l controller-admin -d 'The controller\'s admin listener (http://HOST:PORT), for when the API server cannot proxy to it [default: the controller pods, through the API server\'s pods/proxy]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from status" -l controller-namespace -d 'The namespace `meshctl install` put the controller in' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from status" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from status" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from status" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from status" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from status" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from status" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from status" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from inspect" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from inspect" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from inspect" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from inspect" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from inspect" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from inspect" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from inspect" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from inspect" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from rotate" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from rotate" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from rotate" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from rotate" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from rotate" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from rotate" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from rotate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from rotate" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from rotate" -f -a "issuer" -d 'New issuer under the current anchor; every proxy renews its leaf from it at once'
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from rotate" -f -a "anchor" -d 'New trust anchor: add it, re-issue every leaf under it, drop the old one (resumable)'
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from rotate" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from help" -f -a "init" -d 'Create the trust anchor (root CA) and the issuer (intermediate CA) in the state dir'
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from help" -f -a "issue" -d 'Issue a workload certificate (X.509-SVID) and write tls.crt, tls.key and ca.crt to a directory'
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from help" -f -a "status" -d 'Show anchor, issuer and issued leaves with their expiry'
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from help" -f -a "inspect" -d 'Explain a PEM certificate or chain and check it against the X.509-SVID rules'
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from help" -f -a "rotate" -d 'Rotate the issuer or the trust anchor of a running mesh without downtime'
complete -c meshctl -n "__fish_meshctl_using_subcommand certs; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l namespace -d 'Namespace of the control plane' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l image -d 'Image of the controller (meshctl\'s static binary; see the Containerfile)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l trust-domain -d 'Trust domain of a new CA (default mesh.local), or the one the given CA must have' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l identity-dir -d 'Use this CA (as `meshctl certs init` or a previous install wrote it: DIR holds identity/)' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l issuer-cert -d 'An organisation\'s issuer certificate (PEM; may be followed by its chain up to the root)' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l issuer-key -d 'The issuer\'s private key (PEM)' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l anchor-cert -d 'The root the issuer chains to (the mesh\'s trust anchor), unless --issuer-cert ends with it' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l save-identity -d 'Where a new CA is saved (its trust anchor key never goes into the cluster)' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l dry-run -d 'Have the API server validate and admit without storing' -r -f -a "server\t'The API server validates and admits each object without storing it'"
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l timeout -d 'How long --wait waits' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l kubeconfig -d 'Kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l context -d 'Kubeconfig context [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l ha -d 'Three controller replicas spread over nodes, with a PodDisruptionBudget'
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l discard-anchor-key -d 'Make a new CA without saving its anchor key: the issuer can never be renewed under it'
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l crds -d 'Also install the Gateway API HTTPRoute CRD (skip it when Gateway API is installed)'
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l apply -d 'Apply the manifests to the cluster (server-side apply) instead of printing them'
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l force-conflicts -d 'Take over fields another field manager owns'
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l wait -d 'Wait until the controller Deployment is Available'
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand uninstall" -l timeout -d 'How long to wait for the deleted objects to be gone' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand uninstall" -l kubeconfig -d 'Kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand uninstall" -l context -d 'Kubeconfig context [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand uninstall" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_using_subcommand uninstall" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand uninstall" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand uninstall" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand uninstall" -l apply -d 'Delete the objects (default: only list them)'
complete -c meshctl -n "__fish_meshctl_using_subcommand uninstall" -l force -d 'Delete even while meshed pods exist'
complete -c meshctl -n "__fish_meshctl_using_subcommand uninstall" -l crds -d 'Also delete the HTTPRoute CRD if meshctl installed it'
complete -c meshctl -n "__fish_meshctl_using_subcommand uninstall" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_using_subcommand uninstall" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_using_subcommand uninstall" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand uninstall" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand inject" -s f -l filename -d 'Manifests to read: a file, or - for standard input' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand inject" -l image -d 'The sidecar\'s image (the meshctl binary, as the controller\'s)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand inject" -l control-plane-namespace -d 'The namespace the control plane was installed in (`meshctl install --namespace`)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand inject" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_using_subcommand inject" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand inject" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand inject" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand inject" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_using_subcommand inject" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_using_subcommand inject" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand inject" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand uninject" -s f -l filename -d 'Manifests to read: a file, or - for standard input' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand uninject" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_using_subcommand uninject" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand uninject" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand uninject" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand uninject" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_using_subcommand uninject" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_using_subcommand uninject" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand uninject" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -l fail-on -d 'Exit 1 when a check reaches this severity' -r -f -a "warning\t''
error\t''"
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -l namespace -d 'With --kube: the mesh\'s namespace' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -l kubeconfig -d 'Kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -l context -d 'Kubeconfig context [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -l certs -d 'Only the certificate checks (the CA, and the proxies\' leaves and bundles if a mesh runs): no mesh needed'
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -l kube -d 'Check the Kubernetes cluster\'s install instead of the local mesh'
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -l pre -d 'With --kube: before install (permissions, a free namespace), not the running controller'
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand controller" -l leaf-lifetime -d 'Lifetime of the workload certificates it issues to proxies' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand controller" -l trust-domain -d 'The mesh\'s trust domain [--kube]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand controller" -l issuer-dir -d 'Directory with the issuer: tls.crt, tls.key and ca.crt (the mounted issuer Secret) [--kube]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand controller" -l namespace -d 'The controller\'s own namespace [--kube]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand controller" -l grpc-listen -d 'gRPC-over-TLS listener proxies connect to [--kube]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand controller" -l webhook-listen -d 'Admission webhook listener (HTTPS) [--kube]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand controller" -l admin-listen -d 'Admin listener: /live, /ready, /metrics [--kube]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand controller" -l tls-san -d 'Another DNS name or IP address for the serving certificate, beyond the controller Service\'s names (repeatable) [--kube]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand controller" -l image -d 'The sidecar image the webhook injects [--kube]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand controller" -l kubeconfig -d 'Kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand controller" -l context -d 'Kubeconfig context [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand controller" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_using_subcommand controller" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand controller" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand controller" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand controller" -l kube -d 'Serve a Kubernetes cluster: the catalog from the API server, proxies authenticated by service-account tokens (what `meshctl install` runs)'
complete -c meshctl -n "__fish_meshctl_using_subcommand controller" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_using_subcommand controller" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_using_subcommand controller" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand controller" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand prometheus-config" -l job-name -d 'The scrape job\'s name (Prometheus\' `job` label)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand prometheus-config" -l interval -d 'How often Prometheus scrapes each proxy (whole seconds)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand prometheus-config" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_using_subcommand prometheus-config" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand prometheus-config" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand prometheus-config" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand prometheus-config" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_using_subcommand prometheus-config" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_using_subcommand prometheus-config" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand prometheus-config" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand completion" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_using_subcommand completion" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand completion" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand completion" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand completion" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_using_subcommand completion" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_using_subcommand completion" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand completion" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand version" -l kubeconfig -d 'Kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand version" -l context -d 'Kubeconfig context [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand version" -s n -l namespace -d 'Namespace of the services and pods [default: the context\'s namespace]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand version" -l controller-admin -d 'The controller\'s admin listener (http://HOST:PORT), for when the API server cannot proxy to it [default: the controller pods, through the API server\'s pods/proxy]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand version" -l controller-namespace -d 'The namespace `meshctl install` put the controller in' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand version" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_using_subcommand version" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand version" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand version" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand version" -l client -d 'Only the client\'s version: do not look for a control plane'
complete -c meshctl -n "__fish_meshctl_using_subcommand version" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_using_subcommand version" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_using_subcommand version" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand version" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand proxy" -l identity-dir -d 'Directory with tls.crt, tls.key and ca.crt (as `meshctl certs issue` writes them); watched, and reloaded when they change' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand proxy" -l inbound -d 'Accept mTLS on LISTEN and forward to the local app: LISTEN=[PROTO://]APP' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand proxy" -l upstream -d 'Accept plaintext from the app on LISTEN, forward over mTLS to PEER, which must present SPIFFE_ID: LISTEN=[PROTO://]PEER#SPIFFE_ID' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand proxy" -l admin -d 'Admin listener (/metrics, /ready, /live) [default: 127.0.0.1:4191]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand proxy" -l workers -d 'Worker threads (1 = a single-threaded runtime) [default: 1]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand proxy" -l config -d 'YAML config file (see examples/); flags add listeners and override its settings' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand proxy" -l control-plane -d 'Get the certificate and the upstreams from a control plane instead of --identity-dir and --upstream: a Unix socket path (what `meshctl up` does), or https://HOST:PORT in a cluster (with --trust-bundle; plain http:// is refused)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand proxy" -l token-file -d 'File holding this proxy\'s bootstrap token: read once, mode 0600 (socket); read again for every call, so a rotated service-account token is followed (https) [control-plane mode]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand proxy" -l spiffe-id -d 'The SPIFFE ID this proxy asks the control plane for: required with a socket; with https the identity the token attests is assigned when this is absent [control-plane mode]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand proxy" -l trust-bundle -d 'PEM bundle the https control plane\'s certificate must chain to (re-read at every reconnection) [https control plane only]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand proxy" -l upstream-service -d 'Serve the upstream SERVICE to the app on LISTEN, whatever listener the control plane names for it (repeatable); an upstream with no listener from either is skipped [https control plane only]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand proxy" -l http-proxy -d 'Plaintext HTTP proxy listener for the app\'s HTTP_PROXY: routes `http://<service>/…` to that upstream [control-plane mode]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand proxy" -l gateway -d 'Also serve the gateway — external clients into mesh services — that FILE describes (JSON; `meshctl up` writes it from mesh.yaml\'s `gateway:`); re-read with its key file and certificate when they change [control-plane mode]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand proxy" -l tap -d 'Serve the tap API (`meshctl tap`) on this loopback address' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand proxy" -l tap-token-sha256 -d 'SHA-256 (hex) of the token tap callers must present as bearer (the mesh admin token)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand proxy" -l tap-mtls -d 'Serve the tap API on ADDR over mutual TLS 1.3 with this proxy\'s certificate, to the --tap-client identity only (how the cluster controller taps sidecars; no token) [https control plane only]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand proxy" -l tap-client -d 'The one client of --tap-mtls: NAMESPACE/SERVICEACCOUNT of the controller, in this proxy\'s trust domain' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand proxy" -l tap-redact -d 'Also redact this header in tap events (repeatable; authorization, proxy-authorization, cookie, set-cookie and x-api-key always are)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand proxy" -l otlp-endpoint -d 'Export a span per request to this OTLP collector and take part in W3C trace context: http://HOST:PORT, or https://HOST[:PORT] with --otlp-ca-file; for http/protobuf a base path may follow (/v1/traces is appended). Off by default' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand proxy" -l otlp-protocol -d 'How spans travel to --otlp-endpoint: grpc or http/protobuf [default: grpc]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand proxy" -l otlp-ca-file -d 'PEM file with the CA certificate(s) an https collector\'s certificate must chain to (and name its host); no public CAs are trusted otherwise' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand proxy" -l otlp-header -d 'Send this header with every export, e.g. authorization=Bearer… (repeatable). Seen in the process list: MESHCTL_OTLP_HEADERS=name=value,… (values percent-encoded) or `otlp_headers` in --config keep it out' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand proxy" -l trace-sample -d 'Share of new traces (requests without a traceparent) recorded, in percent, up to 4 decimals [default: 100]; a caller\'s sampling decision is always followed' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand proxy" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_using_subcommand proxy" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand proxy" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand proxy" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand proxy" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_using_subcommand proxy" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_using_subcommand proxy" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand proxy" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and not __fish_seen_subcommand_from completions man help" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and not __fish_seen_subcommand_from completions man help" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and not __fish_seen_subcommand_from completions man help" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and not __fish_seen_subcommand_from completions man help" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and not __fish_seen_subcommand_from completions man help" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and not __fish_seen_subcommand_from completions man help" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and not __fish_seen_subcommand_from completions man help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and not __fish_seen_subcommand_from completions man help" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and not __fish_seen_subcommand_from completions man help" -f -a "completions" -d 'Write completion scripts for bash, zsh, fish and powershell into DIR'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and not __fish_seen_subcommand_from completions man help" -f -a "man" -d 'Write one man page per command and subcommand into DIR'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and not __fish_seen_subcommand_from completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from completions" -l dir -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from completions" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from completions" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from completions" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from completions" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from completions" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from completions" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from completions" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from man" -l dir -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from man" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from man" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from man" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from man" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from man" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from man" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from man" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from man" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from help" -f -a "completions" -d 'Write completion scripts for bash, zsh, fish and powershell into DIR'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from help" -f -a "man" -d 'Write one man page per command and subcommand into DIR'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and not __fish_seen_subcommand_from web api quotes load help" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and not __fish_seen_subcommand_from web api quotes load help" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and not __fish_seen_subcommand_from web api quotes load help" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and not __fish_seen_subcommand_from web api quotes load help" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and not __fish_seen_subcommand_from web api quotes load help" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and not __fish_seen_subcommand_from web api quotes load help" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and not __fish_seen_subcommand_from web api quotes load help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and not __fish_seen_subcommand_from web api quotes load help" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and not __fish_seen_subcommand_from web api quotes load help" -f -a "web" -d 'HTTP frontend: `GET /` asks api for a quote and names the api version that answered'
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and not __fish_seen_subcommand_from web api quotes load help" -f -a "api" -d 'HTTP JSON API: `GET /api/quote?symbol=X` calls quotes over gRPC'
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and not __fish_seen_subcommand_from web api quotes load help" -f -a "quotes" -d 'gRPC Quotes server (GetQuote, StreamQuotes)'
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and not __fish_seen_subcommand_from web api quotes load help" -f -a "load" -d 'Steady HTTP GET traffic to a loopback URL; a summary on stderr every 10 s and at the end'
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and not __fish_seen_subcommand_from web api quotes load help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from web" -l listen -d 'Address to listen on, loopback only; port 0 picks a free port. The bound address is printed as the first line on stdout' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from web" -l api -d 'Where api listens (the caller\'s outbound proxy listener in a mesh)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from web" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from web" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from web" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from web" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from web" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from web" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from web" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from web" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from api" -l listen -d 'Address to listen on, loopback only; port 0 picks a free port. The bound address is printed as the first line on stdout' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from api" -l version -d 'Version this instance reports (`served_by`, `version`)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from api" -l quotes -d 'Where quotes listens (gRPC over h2c)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from api" -l latency-ms -d 'Typical latency added to each request, in milliseconds (1% take ten times longer)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from api" -l error-rate -d 'Share of requests that fail, from 0 to 1' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from api" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from api" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from api" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from api" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from api" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from api" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from api" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from quotes" -l listen -d 'Address to listen on, loopback only; port 0 picks a free port. The bound address is printed as the first line on stdout' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from quotes" -l version -d 'Version this instance reports in `served_by`' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from quotes" -l latency-ms -d 'Typical latency added to each request, in milliseconds (1% take ten times longer)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from quotes" -l error-rate -d 'Share of requests that fail, from 0 to 1' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from quotes" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from quotes" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from quotes" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from quotes" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from quotes" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from quotes" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from quotes" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from load" -l url -d 'URL to GET (loopback only), e.g. http://127.0.0.1:8080/' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from load" -l rps -d 'Requests per second' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from load" -l duration -d 'Stop after this long [default: until SIGTERM or Ctrl-C]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from load" -l requests -d 'Stop after this many requests' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from load" -s o -l output -d 'Output format of read commands' -r -f -a "table\t'Aligned columns for people'
wide\t'The table with extra columns'
json\t'JSON; streams print one object per line (NDJSON)'
yaml\t'YAML'"
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from load" -l state-dir -d 'State directory [default: nearest .meshctl/ from the current directory upward]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from load" -l target -d 'Which mesh commands act on [default: the local mesh found from the current directory upward (or --state-dir), else the current kubeconfig context; never switched once given]' -r -f -a "local\t'The mesh `meshctl up` runs from a .meshctl/ state directory'
kubernetes\t'The mesh `meshctl install` runs in the kubeconfig\'s cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from load" -l request-timeout -d 'How long one call to the control plane may wait for its answer before the command fails, naming the socket (like kubectl\'s --request-timeout)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from load" -l no-color -d 'Disable colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from load" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)'
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from load" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from load" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from help" -f -a "web" -d 'HTTP frontend: `GET /` asks api for a quote and names the api version that answered'
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from help" -f -a "api" -d 'HTTP JSON API: `GET /api/quote?symbol=X` calls quotes over gRPC'
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from help" -f -a "quotes" -d 'gRPC Quotes server (GetQuote, StreamQuotes)'
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from help" -f -a "load" -d 'Steady HTTP GET traffic to a loopback URL; a summary on stderr every 10 s and at the end'
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and not __fish_seen_subcommand_from up demo down status stat tap replay top edges explain canary fault gateway certs install uninstall inject uninject check controller prometheus-config completion version proxy generate demo-app help" -f -a "up" -d 'Run a whole mesh from mesh.yaml on this machine: control plane, proxies, apps'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and not __fish_seen_subcommand_from up demo down status stat tap replay top edges explain canary fault gateway certs install uninstall inject uninject check controller prometheus-config completion version proxy generate demo-app help" -f -a "demo" -d 'Run the built-in demo mesh (the same as `meshctl up --demo`)'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and not __fish_seen_subcommand_from up demo down status stat tap replay top edges explain canary fault gateway certs install uninstall inject uninject check controller prometheus-config completion version proxy generate demo-app help" -f -a "down" -d 'Stop the mesh `meshctl up --detach` started'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and not __fish_seen_subcommand_from up demo down status stat tap replay top edges explain canary fault gateway certs install uninstall inject uninject check controller prometheus-config completion version proxy generate demo-app help" -f -a "status" -d 'Show what runs in the mesh (local, or the meshed pods on Kubernetes) and whether it is healthy'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and not __fish_seen_subcommand_from up demo down status stat tap replay top edges explain canary fault gateway certs install uninstall inject uninject check controller prometheus-config completion version proxy generate demo-app help" -f -a "stat" -d 'Golden metrics per service and version: success rate, RPS, latency percentiles'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and not __fish_seen_subcommand_from up demo down status stat tap replay top edges explain canary fault gateway certs install uninstall inject uninject check controller prometheus-config completion version proxy generate demo-app help" -f -a "tap" -d 'Live requests through a service\'s proxies: request, response and end of each'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and not __fish_seen_subcommand_from up demo down status stat tap replay top edges explain canary fault gateway certs install uninstall inject uninject check controller prometheus-config completion version proxy generate demo-app help" -f -a "replay" -d 'Send a HAR file\'s requests again through a meshed caller, to one version or two compared'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and not __fish_seen_subcommand_from up demo down status stat tap replay top edges explain canary fault gateway certs install uninstall inject uninject check controller prometheus-config completion version proxy generate demo-app help" -f -a "top" -d 'The busiest routes (source, destination, method, path), live; q quits'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and not __fish_seen_subcommand_from up demo down status stat tap replay top edges explain canary fault gateway certs install uninstall inject uninject check controller prometheus-config completion version proxy generate demo-app help" -f -a "edges" -d 'Who talks to whom: client and server identities and whether the hop was mTLS'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and not __fish_seen_subcommand_from up demo down status stat tap replay top edges explain canary fault gateway certs install uninstall inject uninject check controller prometheus-config completion version proxy generate demo-app help" -f -a "explain" -d 'What the mesh would do with one request, and why (a dry run on the live proxies)'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and not __fish_seen_subcommand_from up demo down status stat tap replay top edges explain canary fault gateway certs install uninstall inject uninject check controller prometheus-config completion version proxy generate demo-app help" -f -a "canary" -d 'Shift traffic between a service\'s versions (weighted splits)'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and not __fish_seen_subcommand_from up demo down status stat tap replay top edges explain canary fault gateway certs install uninstall inject uninject check controller prometheus-config completion version proxy generate demo-app help" -f -a "fault" -d 'Inject aborts and delays into a service\'s traffic (chaos testing), clear and list them'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and not __fish_seen_subcommand_from up demo down status stat tap replay top edges explain canary fault gateway certs install uninstall inject uninject check controller prometheus-config completion version proxy generate demo-app help" -f -a "gateway" -d 'The mesh\'s entry for external clients (declared in mesh.yaml): manage its API keys'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and not __fish_seen_subcommand_from up demo down status stat tap replay top edges explain canary fault gateway certs install uninstall inject uninject check controller prometheus-config completion version proxy generate demo-app help" -f -a "certs" -d 'Manage the mesh certificate authority and workload certificates'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and not __fish_seen_subcommand_from up demo down status stat tap replay top edges explain canary fault gateway certs install uninstall inject uninject check controller prometheus-config completion version proxy generate demo-app help" -f -a "install" -d 'Install the mesh\'s control plane in a Kubernetes cluster (print or apply the manifests)'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and not __fish_seen_subcommand_from up demo down status stat tap replay top edges explain canary fault gateway certs install uninstall inject uninject check controller prometheus-config completion version proxy generate demo-app help" -f -a "uninstall" -d 'Remove what `meshctl install` created from a Kubernetes cluster'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and not __fish_seen_subcommand_from up demo down status stat tap replay top edges explain canary fault gateway certs install uninstall inject uninject check controller prometheus-config completion version proxy generate demo-app help" -f -a "inject" -d 'Add the sidecar to Kubernetes manifests (Pods, Deployments, Jobs, …) read from a file or stdin'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and not __fish_seen_subcommand_from up demo down status stat tap replay top edges explain canary fault gateway certs install uninstall inject uninject check controller prometheus-config completion version proxy generate demo-app help" -f -a "uninject" -d 'Remove what `meshctl inject` added'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and not __fish_seen_subcommand_from up demo down status stat tap replay top edges explain canary fault gateway certs install uninstall inject uninject check controller prometheus-config completion version proxy generate demo-app help" -f -a "check" -d 'Check the local mesh\'s health: control plane, proxies, apps, certificates (or with --kube the cluster\'s): √ ‼ ×, with a hint each'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and not __fish_seen_subcommand_from up demo down status stat tap replay top edges explain canary fault gateway certs install uninstall inject uninject check controller prometheus-config completion version proxy generate demo-app help" -f -a "controller" -d 'Run the control plane of a local mesh (started for you by `meshctl up`), or with --kube of a cluster (what `meshctl install` deploys)'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and not __fish_seen_subcommand_from up demo down status stat tap replay top edges explain canary fault gateway certs install uninstall inject uninject check controller prometheus-config completion version proxy generate demo-app help" -f -a "prometheus-config" -d 'Print a Prometheus scrape job for the local mesh\'s proxies (file_sd, kept current by `up`)'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and not __fish_seen_subcommand_from up demo down status stat tap replay top edges explain canary fault gateway certs install uninstall inject uninject check controller prometheus-config completion version proxy generate demo-app help" -f -a "completion" -d 'Print the shell completion script for bash, zsh, fish or powershell'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and not __fish_seen_subcommand_from up demo down status stat tap replay top edges explain canary fault gateway certs install uninstall inject uninject check controller prometheus-config completion version proxy generate demo-app help" -f -a "version" -d 'Print the client\'s version and the control plane\'s (the local mesh\'s, or every controller replica\'s on Kubernetes)'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and not __fish_seen_subcommand_from up demo down status stat tap replay top edges explain canary fault gateway certs install uninstall inject uninject check controller prometheus-config completion version proxy generate demo-app help" -f -a "proxy" -d 'Run the sidecar proxy (mTLS data plane)'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and not __fish_seen_subcommand_from up demo down status stat tap replay top edges explain canary fault gateway certs install uninstall inject uninject check controller prometheus-config completion version proxy generate demo-app help" -f -a "generate" -d 'Generate shell completions and man pages (for packagers)'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and not __fish_seen_subcommand_from up demo down status stat tap replay top edges explain canary fault gateway certs install uninstall inject uninject check controller prometheus-config completion version proxy generate demo-app help" -f -a "demo-app" -d 'Run one role of the built-in demo application (launched by `meshctl up --demo`)'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and not __fish_seen_subcommand_from up demo down status stat tap replay top edges explain canary fault gateway certs install uninstall inject uninject check controller prometheus-config completion version proxy generate demo-app help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and __fish_seen_subcommand_from canary" -f -a "shift" -d 'Set the traffic split now: send --weight percent of SERVICE\'s traffic to --to VERSION'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and __fish_seen_subcommand_from canary" -f -a "start" -d 'Roll --to VERSION out step by step, gated on its own error rate and p99; roll back on breach'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and __fish_seen_subcommand_from canary" -f -a "promote" -d 'Give the rolling-out version 100% now and end its rollout'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and __fish_seen_subcommand_from canary" -f -a "abort" -d 'Send the rolling-out version back to 0% now and end its rollout'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and __fish_seen_subcommand_from canary" -f -a "status" -d 'Show the configured split weights and every rollout (phase, weight, last check, history)'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and __fish_seen_subcommand_from canary" -f -a "mirror" -d 'Copy a share of a service\'s requests to a version and compare its answers, live'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and __fish_seen_subcommand_from canary" -f -a "diff" -d 'Show how mirrored requests\' answers compared with the real ones, per route'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and __fish_seen_subcommand_from fault" -f -a "inject" -d 'Inject aborts and/or delays into requests to a service, now'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and __fish_seen_subcommand_from fault" -f -a "clear" -d 'Remove a service\'s live fault'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and __fish_seen_subcommand_from fault" -f -a "list" -d 'Show every fault: live ones and those in mesh.yaml, and which are in force'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and __fish_seen_subcommand_from gateway" -f -a "keys" -d 'Manage the gateway\'s API keys'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and __fish_seen_subcommand_from gateway" -f -a "reload" -d 'Apply mesh.yaml\'s edited `gateway:` (routes, limits, keys file, certificate) to the running mesh\'s gateway, without dropping a connection'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and __fish_seen_subcommand_from certs" -f -a "init" -d 'Create the trust anchor (root CA) and the issuer (intermediate CA) in the state dir'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and __fish_seen_subcommand_from certs" -f -a "issue" -d 'Issue a workload certificate (X.509-SVID) and write tls.crt, tls.key and ca.crt to a directory'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and __fish_seen_subcommand_from certs" -f -a "status" -d 'Show anchor, issuer and issued leaves with their expiry'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and __fish_seen_subcommand_from certs" -f -a "inspect" -d 'Explain a PEM certificate or chain and check it against the X.509-SVID rules'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and __fish_seen_subcommand_from certs" -f -a "rotate" -d 'Rotate the issuer or the trust anchor of a running mesh without downtime'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and __fish_seen_subcommand_from generate" -f -a "completions" -d 'Write completion scripts for bash, zsh, fish and powershell into DIR'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and __fish_seen_subcommand_from generate" -f -a "man" -d 'Write one man page per command and subcommand into DIR'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and __fish_seen_subcommand_from demo-app" -f -a "web" -d 'HTTP frontend: `GET /` asks api for a quote and names the api version that answered'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and __fish_seen_subcommand_from demo-app" -f -a "api" -d 'HTTP JSON API: `GET /api/quote?symbol=X` calls quotes over gRPC'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and __fish_seen_subcommand_from demo-app" -f -a "quotes" -d 'gRPC Quotes server (GetQuote, StreamQuotes)'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and __fish_seen_subcommand_from demo-app" -f -a "load" -d 'Steady HTTP GET traffic to a loopback URL; a summary on stderr every 10 s and at the end'
