//! Flags and mistakes that habits from curl and oha bring: each mistake is refused with one line
//! that names the input and the flag that fixes it (exit 2), and the curl-like flags send what
//! curl would.

use crate::core::one_request;
use crate::support::{server::TestServer, tempdir};

#[tokio::test(flavor = "multi_thread")]
async fn habits_from_curl_and_oha_get_a_hint_and_exit_2() {
    let server = TestServer::start().await;
    let url = server.url("/");
    let addr = url.trim_start_matches("http://").to_string();
    let dir = tempdir("habits");
    let deploy = dir.join("deploy.sh");
    std::fs::write(&deploy, "#!/bin/sh\n").unwrap();
    let deploy = deploy.to_str().unwrap();
    let suggested = format!("did you mean `http://{addr}`?");
    let cases: &[(&[&str], &str)] = &[
        (&["-d", r#"{"a":1}"#, &url], "blip's -d is --duration (how long to probe); send a body with --data"),
        (&["--json", r#"{"text":"hi"}"#, &url], "--json takes the PATH of a report file"),
        (&["--junit", "[1,2]", &url], "--junit takes the PATH"),
        (&["--markdown", r#"{"a":1}"#, &url], "--markdown takes the PATH"),
        (&["-q", "10", &url], "`-q`: did you mean -r/--rate?"),
        (&["-z", "10s", &url], "`-z`: did you mean -d/--duration?"),
        (&[&url, "--retry", "3"], "put it after `--`, which starts the COMMAND"),
        (&["--fail-fst", &url], "did you mean `--fail-fast`?"),
        (&[&url, deploy], "put `--` before it"),
        (&[&url, "sh"], "`sh` is not a URL but a file or command: to wrap it as the deploy COMMAND, put `--`"),
        // A command not installed here is still no host.
        (
            &[&url, "no-such-cf", "push"],
            "`no-such-cf` is not a URL: to wrap it as the deploy COMMAND, put `--` before it",
        ),
        (
            &["http//127.0.0.1:9/x"],
            "`http//127.0.0.1:9/x` misses the `:` after http: did you mean `http://127.0.0.1:9/x`?",
        ),
        (&["https//notes.example/x"], "did you mean `https://notes.example/x`?"),
        (&[deploy, &url], "is not a URL but a file or command: URLs come first, then `--` and the COMMAND"),
        (&["./no-such-deploy.sh"], "`./no-such-deploy.sh` is not a URL but a file or command: URLs come first"),
        (&["-d", "1s", &addr], &suggested),
        (&["--data", "@/nonexistent-dir/body.json", &url], "--data @/nonexistent-dir/body.json: cannot read"),
        (&["--data-binary", "@/nonexistent-dir/b", &url], "--data-binary @/nonexistent-dir/b: cannot read"),
        (&["-u", "alice", &url], "--user needs USER:PASS"),
        // A subcommand's unknown flag points at its own help, not at a COMMAND it does not take.
        (&["judge", "r.json", "--color", "always"], "for blip judge: `blip judge --help` lists its flags"),
    ];
    crate::support::assert_refused(cases).await;
    assert_eq!(server.requests(), 0, "nothing was probed");
    assert!(std::fs::read_dir(&dir).unwrap().count() == 1, "no report file named after a body");
}

#[tokio::test(flavor = "multi_thread")]
async fn curl_flags_point_to_what_blip_calls_them() {
    let url = "http://127.0.0.1:9/";
    let cases: &[(&[&str], &str)] = &[
        (&["-s", url], "`-s`: did you mean `--ui quiet`?"),
        (&["--silent", url], "`--silent`: did you mean `--ui quiet`?"),
        (&["-o", "out.html", url], "`-o`: did you mean `--json PATH`?"),
        (&["--output=out.html", url], "`--output`: did you mean `--json PATH`?"),
        (&["-L", url], "`-L`: blip judges redirects instead of following them"),
        (&["--location", url], "(--expect-status 2xx)"),
        (&["-m", "2", url], "`-m`: did you mean -t/--timeout?"),
        // clap's nearest flag would be --max-downtime, which is another thing.
        (&["--max-time", "2", url], "`--max-time`: did you mean -t/--timeout?"),
        (&["-I", url], "`-I`: did you mean `-X HEAD`?"),
        (&["--head", url], "`--head`: did you mean `-X HEAD`?"),
    ];
    crate::support::assert_refused(cases).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn data_from_a_file_is_sent_as_curl_sends_it() {
    let dir = tempdir("data-file");
    let file = dir.join("body.json");
    std::fs::write(&file, "{\"a\":\r\n1}\n").unwrap();
    let data = format!("@{}", file.display());
    // --data drops line breaks, as curl's -d @file does; --data-binary keeps every byte.
    let request = one_request(&["-X", "POST", "--data", &data], "http://ADDR/", &[]).await;
    assert!(request.to_lowercase().contains("\r\ncontent-length: 7\r\n"), "{request}");
    assert!(request.ends_with("\r\n\r\n{\"a\":1}"), "{request}");
    let request = one_request(&["-X", "POST", "--data-binary", &data], "http://ADDR/", &[]).await;
    assert!(request.ends_with("\r\n\r\n{\"a\":\r\n1}\n"), "{request}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_is_a_form_post_unless_told_otherwise_as_with_curl() {
    for flag in ["--data", "--data-binary"] {
        let request = one_request(&[flag, "a=1"], "http://ADDR/", &[]).await.to_lowercase();
        assert!(request.starts_with("post / http/1.1\r\n"), "{flag}: {request}");
        assert!(request.contains("\r\ncontent-type: application/x-www-form-urlencoded\r\n"), "{flag}: {request}");
    }
    let json = ["-X", "PUT", "-H", "Content-Type: application/json", "--data", "{}"];
    let request = one_request(&json, "http://ADDR/", &[]).await.to_lowercase();
    assert!(request.starts_with("put / http/1.1\r\n"), "{request}");
    assert_eq!(request.matches("content-type:").count(), 1, "{request}");
    assert!(request.contains("\r\ncontent-type: application/json\r\n"), "{request}");
    let request = one_request(&[], "http://ADDR/", &[]).await.to_lowercase();
    assert!(request.starts_with("get / http/1.1\r\n") && !request.contains("content-type"), "{request}");
}

#[tokio::test(flavor = "multi_thread")]
async fn user_is_basic_auth_and_its_password_is_never_shown() {
    let dir = tempdir("user");
    let json = dir.join("r.json");
    let json = json.to_str().unwrap();
    let request = one_request(&["-u", "notes:s3cret", "--markdown", json], "http://ADDR/api", &[]).await;
    let auth = request.lines().find_map(|l| l.to_lowercase().starts_with("authorization:").then(|| l[14..].trim()));
    // base64("notes:s3cret")
    assert_eq!(auth, Some("Basic bm90ZXM6czNjcmV0"), "{request}");
    let markdown = std::fs::read_to_string(json).unwrap();
    assert!(markdown.contains("http://notes:") && !markdown.contains("s3cret"), "{markdown}");
    // Sent as typed, as curl does: `%41` is three characters of a password, not an escape.
    let request = one_request(&["-u", "x:%41%42"], "http://ADDR/api", &[]).await;
    let auth = request.lines().find_map(|l| l.to_lowercase().starts_with("authorization:").then(|| l[14..].trim()));
    // base64("x:%41%42")
    assert_eq!(auth, Some("Basic eDolNDElNDI="), "{request}");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_flag_is_read_from_a_blip_environment_variable() {
    let env = [("BLIP_METHOD", "PUT".to_string()), ("BLIP_HEADER", "X-From: env".to_string())];
    let request = one_request(&[], "http://ADDR/env", &env).await;
    assert!(request.starts_with("PUT /env HTTP/1.1\r\n"), "{request}");
    assert!(request.to_lowercase().contains("\r\nx-from: env\r\n"), "{request}");
    // The command line wins over the environment.
    let request = one_request(&["-X", "POST"], "http://ADDR/env", &env).await;
    assert!(request.starts_with("POST /env HTTP/1.1\r\n"), "{request}");
    // An empty variable, as a CI file's unset input gives, is no value: the default holds.
    let empty = [("BLIP_METHOD", String::new()), ("BLIP_TIMEOUT", String::new())];
    let request = one_request(&[], "http://ADDR/env", &empty).await;
    assert!(request.starts_with("GET /env HTTP/1.1\r\n"), "{request}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_value_from_the_environment_names_the_variable() {
    let out = tokio::process::Command::new(crate::support::BLIP)
        .args(["-d", "1s", "http://127.0.0.1:9/"])
        .env("BLIP_TIMEOUT", "soon")
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("'soon' in BLIP_TIMEOUT (the variable for --timeout: fix or unset it)"), "{stderr}");
    // Typed on the command line, the flag is what is named.
    let out = tokio::process::Command::new(crate::support::BLIP)
        .args(["-d", "1s", "--timeout", "soon", "http://127.0.0.1:9/"])
        .env("BLIP_TIMEOUT", "soon")
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("for '--timeout <DUR>'") && !stderr.contains("BLIP_TIMEOUT"), "{stderr}");
    // A switch takes a yes or a no, nothing else.
    let out = tokio::process::Command::new(crate::support::BLIP)
        .args(["-d", "1s", "http://127.0.0.1:9/"])
        .env("BLIP_FAIL_FAST", "nope")
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("'nope' in BLIP_FAIL_FAST"), "{stderr}");
}

/// Runs blip on a refused URL with `env`, returning its exit code, stdout and stderr.
async fn blip_env(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let mut command = tokio::process::Command::new(crate::support::BLIP);
    command.args(["-r", "20", "-d", "0.3s", "--ui", "lines"]).args(args).arg("http://127.0.0.1:9/");
    for (name, value) in env {
        command.env(name, value);
    }
    let out = command.output().await.unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_switches_that_exclude_others_are_read_from_the_environment_too() {
    // A refused URL fails the default gate; BLIP_MEASURE_ONLY judges nothing, as the flag does.
    let (code, stdout, stderr) = blip_env(&[], &[("BLIP_MEASURE_ONLY", "true")]).await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("measured only: no gate was judged"), "{stdout}");
    let (code, stdout, _) = blip_env(&[], &[("BLIP_MEASURE_ONLY", "0")]).await;
    assert_eq!(code, Some(1), "a switch's no is off: {stdout}");
    // A gate typed on the command line wins over the variable.
    let (code, stdout, _) = blip_env(&["--max-downtime", "0s"], &[("BLIP_MEASURE_ONLY", "1")]).await;
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("max-downtime 0s failed"), "{stdout}");
    // Two variables that exclude each other: neither is guessed.
    let (code, _, stderr) = blip_env(&[], &[("BLIP_MEASURE_ONLY", "1"), ("BLIP_MAX_DOWNTIME", "5s")]).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("BLIP_MEASURE_ONLY and BLIP_MAX_DOWNTIME contradict each other"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let (code, _, stderr) = blip_env(&[], &[("BLIP_MEASURE_ONLY", "maybe")]).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("BLIP_MEASURE_ONLY=maybe is not a switch value"), "{stderr}");

    // BLIP_DATA sends a body, as --data does; a typed --data-binary wins.
    let request = one_request(&[], "http://ADDR/env", &[("BLIP_DATA", "from=env".to_string())]).await;
    assert!(request.starts_with("POST /env HTTP/1.1\r\n") && request.ends_with("\r\n\r\nfrom=env"), "{request}");
    let request =
        one_request(&["--data-binary", "typed"], "http://ADDR/env", &[("BLIP_DATA", "from=env".to_string())]).await;
    assert!(request.ends_with("\r\n\r\ntyped"), "{request}");

    // BLIP_FRESH_CONNECTIONS is --connections fresh; a typed --connections wins.
    let lanes = |stdout: &str| -> Vec<String> {
        let report: serde_json::Value = serde_json::from_str(stdout).unwrap();
        report["targets"].as_array().unwrap().iter().map(|t| t["connection"].as_str().unwrap().to_string()).collect()
    };
    let fresh = [("BLIP_FRESH_CONNECTIONS", "yes")];
    let (code, stdout, stderr) = blip_env(&["--measure-only", "--json", "-"], &fresh).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(lanes(&stdout), ["fresh"]);
    let typed = ["--measure-only", "--json", "-", "--connections", "both"];
    let (code, stdout, stderr) = blip_env(&typed, &fresh).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(lanes(&stdout), ["reused", "fresh"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn color_always_wins_over_no_color_and_leaves_no_bare_resets() {
    let (_, stdout, _) = blip_env(&["--color", "always"], &[("NO_COLOR", "1")]).await;
    assert!(stdout.contains("\x1b[38;5;9mDOWN\x1b[39m"), "{stdout:?}");
    assert!(!stdout.contains("\x1b[m"), "a reset with no colour before it: {stdout:?}");
    let (_, stdout, _) = blip_env(&[], &[("NO_COLOR", "1"), ("GITHUB_ACTIONS", "true")]).await;
    assert!(!stdout.contains('\x1b'), "NO_COLOR wins over auto: {stdout:?}");
    let (_, stdout, _) = blip_env(&["--color", "never"], &[("GITHUB_ACTIONS", "true")]).await;
    assert!(!stdout.contains('\x1b'), "{stdout:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_report_never_writes_over_a_file_blip_did_not_write() {
    let dir = tempdir("overwrite");
    let path = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let body = path("body.json");
    std::fs::write(&body, r#"{"text":"hi"}"#).unwrap();
    let notes = path("notes.md");
    std::fs::write(&notes, "# notes\n").unwrap();
    let at = format!("@{body}");
    let url = "http://127.0.0.1:9/";
    let cases: &[(&[&str], &str)] = &[
        (&["--json", &body, "-d", "0.1s", url], "--json would write over"),
        (&["--markdown", &notes, "-d", "0.1s", url], "which is not a blip report: give another path, or add --force"),
        (
            &["--json", &at, "-d", "0.1s", url],
            "starts with @ as curl's file arguments do: send a file as the body with --data @",
        ),
    ];
    crate::support::assert_refused(cases).await;
    assert_eq!(std::fs::read_to_string(&body).unwrap(), r#"{"text":"hi"}"#, "the body is as it was");
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), "# notes\n");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2, "no file named @…");

    // Every kind of report blip writes is blip's to write over again, on the next run or by judge.
    let (json, junit, markdown, html, events) =
        (path("r.json"), path("r.xml"), path("r.md"), path("r.html"), path("r.ndjson"));
    let empty = path("empty.json");
    std::fs::write(&empty, "").unwrap();
    let all = ["--json", &json, "--junit", &junit, "--markdown", &markdown, "--html", &html, "--events", &events];
    for _ in 0..2 {
        let out =
            crate::support::blip(&[&all[..], &["--measure-only", "-d", "0.1s", "--ui", "quiet", url]].concat()).await;
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let judged = ["judge", &json, "--measure-only", "--json", &empty, "--junit", &junit, "--markdown", &markdown];
    let out = crate::support::blip(&judged).await;
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let out = crate::support::blip(&["judge", &json, "--measure-only", "--markdown", &notes]).await;
    assert_eq!(out.status.code(), Some(2), "judge refuses it too");
    // --force replaces what it is told to.
    let out =
        crate::support::blip(&["--json", &body, "--force", "--measure-only", "-d", "0.1s", "--ui", "quiet", url]).await;
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::read_to_string(&body).unwrap().contains("\"blip_version\""));
}
