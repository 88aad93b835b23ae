//! The CLI definition's own checks: it is valid, every visible (sub)command's --help has
//! `Examples:` that parse as meshctl command lines, global flags sit under their own heading,
//! and unbuilt verbs are answered.

use clap::CommandFactory;

use super::{Cli, GLOBAL_OPTIONS, UNBUILT_VERBS, unbuilt_verb};

#[test]
fn unbuilt_verbs_are_not_commands_and_say_what_to_use() {
    let cli = Cli::command();
    for (verb, _) in UNBUILT_VERBS {
        assert!(cli.find_subcommand(verb).is_none(), "{verb} is built now");
    }
    assert_eq!(
        unbuilt_verb("dashboard").as_deref(),
        Some(
            "error: `meshctl dashboard` is not built yet; for live figures use `meshctl stat`, `meshctl top` or `meshctl edges`"
        )
    );
    assert_eq!(unbuilt_verb("frobnicate"), None);
}

/// clap checks its definition (unique flag names, …) only when it is built: do it here
/// rather than in the first test that happens to run a command.
#[test]
fn cli_definition_is_valid() {
    Cli::command().debug_assert();
}

/// One (sub)command of the tree.
struct Node {
    /// Its full name: `meshctl canary start`.
    name: String,
    /// Hidden itself or below a hidden command (`generate`, `demo-app`).
    hidden: bool,
    after_help: String,
}

/// Every command and subcommand, clap's own `help` left out.
fn tree() -> Vec<Node> {
    fn walk(cmd: &clap::Command, name: String, hidden: bool, out: &mut Vec<Node>) {
        let hidden = hidden || cmd.is_hide_set();
        out.push(Node {
            name: name.clone(),
            hidden,
            after_help: cmd
                .get_after_help()
                .map(ToString::to_string)
                .unwrap_or_default(),
        });
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            walk(sub, format!("{name} {}", sub.get_name()), hidden, out);
        }
    }
    let mut cli = Cli::command();
    cli.build();
    let mut out = Vec::new();
    walk(&cli, "meshctl".into(), false, &mut out);
    out
}

#[test]
fn every_visible_command_has_examples_before_its_exit_codes() {
    let nodes = tree();
    assert!(nodes.len() > 30, "the walk found {} commands", nodes.len());
    let mut missing = Vec::new();
    let mut misplaced = Vec::new();
    for node in nodes.iter().filter(|n| !n.hidden) {
        let examples = node
            .after_help
            .find("\nExamples:\n")
            .or_else(|| node.after_help.starts_with("Examples:\n").then_some(0));
        match (examples, node.after_help.find("Exit codes:")) {
            (None, _) => missing.push(node.name.as_str()),
            (Some(e), Some(x)) if x < e => misplaced.push(node.name.as_str()),
            _ => {}
        }
    }
    assert!(
        missing.is_empty(),
        "no `Examples:` in the --help of: {}",
        missing.join(", ")
    );
    assert!(
        misplaced.is_empty(),
        "`Exit codes:` before `Examples:` in the --help of: {}",
        misplaced.join(", ")
    );
}

#[test]
fn every_example_parses_and_shows_its_own_command() {
    let mut failures = Vec::new();
    let mut parsed = 0;
    for node in tree() {
        let mut shows_itself = false;
        for line in example_lines(&node.after_help) {
            let argvs = match meshctl_invocations(&line) {
                Ok(a) => a,
                Err(e) => {
                    failures.push(format!("{}: `{line}`: {e}", node.name));
                    continue;
                }
            };
            for argv in argvs {
                parsed += 1;
                match parse(&argv) {
                    Ok(path) => shows_itself |= path.starts_with(&node.name),
                    Err(e) => failures.push(format!("{}: `{line}`: {e}", node.name)),
                }
            }
        }
        if !node.hidden && !node.after_help.is_empty() && !shows_itself {
            failures.push(format!("{}: no example runs it", node.name));
        }
    }
    assert!(parsed > 60, "only {parsed} example invocations found");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Parses one meshctl command line like `main` does; `Ok` is the (sub)command path it runs
/// (`meshctl canary start`). `--help` and `--version` count as parsed.
fn parse(argv: &[String]) -> Result<String, String> {
    use clap::error::ErrorKind;
    match Cli::command().try_get_matches_from(argv) {
        Ok(mut matches) => {
            let mut path = String::from("meshctl");
            while let Some((name, sub)) = matches.remove_subcommand() {
                path.push(' ');
                path.push_str(&name);
                matches = sub;
            }
            // The derive's own conversion too (what `Cli::parse` adds to the matching).
            <Cli as clap::Parser>::try_parse_from(argv).map_err(|e| e.to_string())?;
            Ok(path)
        }
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            Ok(String::from("meshctl"))
        }
        Err(e) => Err(e
            .render()
            .to_string()
            .lines()
            .next()
            .unwrap_or("")
            .to_string()),
    }
}

/// The example lines of a --help text: the indented lines after `Examples:` up to the next
/// heading, `\` continuations joined, comment lines dropped.
fn example_lines(help: &str) -> Vec<String> {
    let mut lines = help.lines().skip_while(|l| *l != "Examples:");
    lines.next();
    let mut out = Vec::new();
    let mut current = String::new();
    for line in lines.take_while(|l| l.is_empty() || l.starts_with(' ')) {
        let line = line.trim();
        if let Some(head) = line.strip_suffix('\\') {
            current.push_str(head.trim_end());
            current.push(' ');
            continue;
        }
        current.push_str(line);
        let whole = std::mem::take(&mut current);
        if !whole.is_empty() && !whole.starts_with('#') {
            out.push(whole);
        }
    }
    out
}

/// A word or a control/redirection operator of a shell line.
#[derive(Debug, PartialEq)]
enum Token {
    Word(String),
    Op(String),
}

/// Every meshctl command in a shell line, as its argv: in each part of a pipeline or list
/// (`|`, `&&`, `;`), and inside `$(…)` and `<(…)`; redirections, `NAME=value` prefixes and
/// a trailing `# comment` are left out.
fn meshctl_invocations(line: &str) -> Result<Vec<Vec<String>>, String> {
    let (tokens, nested) = lex(line)?;
    let mut out = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut tokens = tokens.into_iter().peekable();
    let mut finish = |words: &mut Vec<String>| {
        let start = words
            .iter()
            .position(|w| !is_assignment(w))
            .unwrap_or(words.len());
        // `COMPLETE=bash meshctl` asks for the dynamic completion script: no command line.
        let completing = words[..start].iter().any(|w| w.starts_with("COMPLETE="));
        if words.get(start).map(String::as_str) == Some("meshctl") && !completing {
            out.push(words[start..].to_vec());
        }
        words.clear();
    };
    while let Some(token) = tokens.next() {
        match token {
            Token::Word(w) => words.push(w),
            Token::Op(op) if op.starts_with('>') || op.starts_with('<') => {
                // The redirection's target.
                if op != ">&" {
                    tokens.next();
                } else {
                    tokens.next_if(|t| matches!(t, Token::Word(_)));
                }
            }
            Token::Op(_) => finish(&mut words),
        }
    }
    finish(&mut words);
    for inner in nested {
        out.extend(meshctl_invocations(&inner)?);
    }
    Ok(out)
}

/// `NAME=value` before a command.
fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// Splits a shell line into words and operators: quotes, backslash escapes and `# comment`
/// as the shell reads them; a `$(…)` or `<(…)` stands for one word and its inside is
/// returned as a line of its own.
fn lex(line: &str) -> Result<(Vec<Token>, Vec<String>), String> {
    let chars: Vec<char> = line.chars().collect();
    let mut tokens = Vec::new();
    let mut nested = Vec::new();
    let mut word: Option<String> = None;
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        match c {
            ' ' | '\t' => {
                tokens.extend(word.take().map(Token::Word));
                i += 1;
            }
            '#' if word.is_none() => break,
            '\'' => {
                let end = (i + 1..chars.len())
                    .find(|&j| chars[j] == '\'')
                    .ok_or("unterminated '")?;
                word.get_or_insert_default().extend(&chars[i + 1..end]);
                i = end + 1;
            }
            '"' => {
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err("unterminated \"".into()),
                        Some('"') => break,
                        Some('\\') => {
                            word.get_or_insert_default().extend(chars.get(i + 1));
                            i += 2;
                        }
                        Some('$') if chars.get(i + 1) == Some(&'(') => {
                            let end = closing_paren(&chars, i + 1)?;
                            nested.push(chars[i + 2..end].iter().collect());
                            word.get_or_insert_default().push_str("SUBSTITUTED");
                            i = end + 1;
                        }
                        Some(&other) => {
                            word.get_or_insert_default().push(other);
                            i += 1;
                        }
                    }
                }
                word.get_or_insert_default();
                i += 1;
            }
            '\\' => {
                word.get_or_insert_default().extend(chars.get(i + 1));
                i += 2;
            }
            '$' | '<' if chars.get(i + 1) == Some(&'(') => {
                let end = closing_paren(&chars, i + 1)?;
                nested.push(chars[i + 2..end].iter().collect());
                word.get_or_insert_default().push_str("SUBSTITUTED");
                i = end + 1;
            }
            '|' | '&' | ';' | '>' | '<' | '(' | ')' => {
                // `2>`: the digits name a file descriptor, not an argument.
                if matches!(c, '>' | '<')
                    && word
                        .as_deref()
                        .is_some_and(|w| w.chars().all(|d| d.is_ascii_digit()))
                {
                    word = None;
                }
                tokens.extend(word.take().map(Token::Word));
                let mut op = c.to_string();
                if let Some(&next) = chars.get(i + 1)
                    && (next == c || (c == '>' && next == '&'))
                {
                    op.push(next);
                    i += 1;
                }
                tokens.push(Token::Op(op));
                i += 1;
            }
            _ => {
                word.get_or_insert_default().push(c);
                i += 1;
            }
        }
    }
    tokens.extend(word.take().map(Token::Word));
    Ok((tokens, nested))
}

/// The index of the `)` closing the `(` at `open`.
fn closing_paren(chars: &[char], open: usize) -> Result<usize, String> {
    let mut depth = 0;
    for (j, &c) in chars.iter().enumerate().skip(open) {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Ok(j);
                }
            }
            _ => {}
        }
    }
    Err("unterminated (".into())
}

#[test]
fn shell_lines_yield_only_their_meshctl_commands() {
    let argvs = |line: &str| meshctl_invocations(line).unwrap();
    let words = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
    assert_eq!(
        argvs("meshctl stat api -o json | jq '.[] | .rps'  # per version"),
        vec![words("meshctl stat api -o json")]
    );
    assert_eq!(
        argvs("kubectl get deploy -o yaml | meshctl inject -f - > out.yaml"),
        vec![words("meshctl inject -f -")]
    );
    assert_eq!(
        argvs("MESHCTL_TARGET=kubernetes meshctl status -n shop && echo ok"),
        vec![words("meshctl status -n shop")]
    );
    assert_eq!(
        argvs("source <(meshctl completion bash)"),
        vec![words("meshctl completion bash")]
    );
    assert_eq!(
        argvs("meshctl certs inspect \"$(ls .meshctl/pki/*.crt | head -1)\" 2>/dev/null"),
        vec![words("meshctl certs inspect SUBSTITUTED")]
    );
    assert_eq!(
        argvs("meshctl tap api --path '/api/quote?symbol=X y'"),
        vec![vec![
            "meshctl".to_string(),
            "tap".into(),
            "api".into(),
            "--path".into(),
            "/api/quote?symbol=X y".into()
        ]]
    );
    assert!(argvs("curl http://127.0.0.1:8080/").is_empty());
    assert!(argvs("source <(COMPLETE=bash meshctl)").is_empty());
    assert!(meshctl_invocations("meshctl tap 'api").is_err());
    assert_eq!(
        example_lines(
            "Intro\n\nExamples:\n  # a comment\n  meshctl up \\\n      --detach\n\nExit codes:\n  0  ok"
        ),
        vec!["meshctl up --detach".to_string()]
    );
}

#[test]
fn a_broken_example_is_caught() {
    let err = parse(&words_of(
        "meshctl canary shift api --weight 20 --frobnicate",
    ))
    .unwrap_err();
    assert!(err.contains("--frobnicate"), "{err}");
    assert_eq!(
        parse(&words_of("meshctl canary status api")).unwrap(),
        "meshctl canary status"
    );
}

fn words_of(line: &str) -> Vec<String> {
    line.split(' ').map(String::from).collect()
}

#[test]
fn global_flags_are_under_their_own_heading() {
    let cli = Cli::command();
    let globals: Vec<_> = cli.get_arguments().filter(|a| a.is_global_set()).collect();
    assert!(globals.len() >= 6, "{} global flags", globals.len());
    for arg in globals {
        assert_eq!(
            arg.get_help_heading(),
            Some(GLOBAL_OPTIONS),
            "--{}",
            arg.get_id()
        );
    }
    let mut cli = Cli::command();
    cli.build();
    let help = cli
        .find_subcommand_mut("status")
        .map(|c| c.render_help().to_string())
        .unwrap_or_default();
    let heading = help.find("Global options:").unwrap_or(0);
    assert!(heading > 0, "{help}");
    assert!(
        help.find("--request-timeout").unwrap_or(0) > heading,
        "{help}"
    );
}
