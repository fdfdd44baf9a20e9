//! Credentials: rejected ones exit 77 with a message that says where they came from;
//! no secret is ever printed or stored, even at trace level.

mod common;

use common::{Env, Tool, clean};
use katana_sync::sandbox::SandboxOptions;

const KEY: &str = "canary-key-9f3b";
const PASSWORD: &str = "canary-pw-7c1d";

fn env_with_canaries() -> Env {
    let opts = SandboxOptions {
        katana_key: KEY.into(),
        luca_password: PASSWORD.into(),
        ..clean(40, 8, 20)
    };
    Env::new(opts, Tool::default())
}

#[test]
fn rejected_credentials_exit_77_and_say_where_they_came_from() {
    let env = env_with_canaries();
    // The harness sends the default sandbox credentials: both wrong here.
    let out = env
        .cmd()
        .args(["orders", "pull"])
        .env("KATANA_API_KEY", "wrong-key")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(77));
    let err = common::stderr(&out);
    assert!(
        err.contains("KATANA_API_KEY") && err.contains("environment"),
        "{err}"
    );
    assert!(
        !err.contains("wrong-key"),
        "the key itself is never printed: {err}"
    );

    let out = env
        .cmd()
        .args(["products", "pull"])
        .env("KATANA_API_KEY", KEY)
        .env("LUCA_PASSWORD", "wrong-password")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(77), "{}", common::stderr(&out));
    let err = common::stderr(&out);
    assert!(
        err.contains("LUCA_PASSWORD") && err.contains("Admin"),
        "{err}"
    );
    assert!(!err.contains("wrong-password"), "{err}");

    let out = env.cmd().arg("doctor").output().unwrap();
    assert_eq!(out.status.code(), Some(77));
    let text = common::stdout(&out);
    assert!(
        text.contains("FAIL katana") && text.contains("FAIL luca"),
        "{text}"
    );
    assert!(text.contains("fix:"), "{text}");
}

#[test]
fn no_secret_reaches_logs_output_or_the_store() {
    let env = env_with_canaries();
    let metrics = env.dir.path().join("katana-sync.prom");
    let metrics_arg = metrics.to_str().unwrap().to_string();
    let mut seen = String::new();
    for args in [
        vec!["all"],
        vec!["orders", "pull"],
        vec!["products", "pull"],
        vec!["products", "push"],
        vec!["doctor"],
        vec!["history"],
        vec!["products", "push", "--dry-run", "--json"],
    ] {
        let out = env
            .cmd()
            .args(&args)
            .args(["-vv", "--metrics-file", &metrics_arg])
            .env("KATANA_SYNC_LOG", "trace")
            .env("KATANA_API_KEY", KEY)
            .env("LUCA_PASSWORD", PASSWORD)
            .output()
            .unwrap();
        seen.push_str(&common::stdout(&out));
        seen.push_str(&common::stderr(&out));
    }
    assert!(
        seen.contains("TRACE") || seen.contains("DEBUG"),
        "trace logs were on"
    );
    assert!(!seen.contains(KEY), "the Katana key leaked into the output");
    assert!(
        !seen.contains(PASSWORD),
        "the Luca password leaked into the output"
    );
    assert!(
        !seen.contains("JSESSIONID="),
        "a session cookie leaked into the output"
    );
    assert!(metrics.exists(), "the metrics file was written");
    for file in std::fs::read_dir(env.dir.path()).unwrap() {
        let path = file.unwrap().path();
        if path.file_name().unwrap() == "sync.toml" {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(KEY) && !text.contains(PASSWORD),
            "{} holds a secret",
            path.display()
        );
    }
    assert!(
        env.stats().luca.creates.stock_card > 0,
        "the run did its work"
    );
    eprintln!(
        "secret canaries: 2 secrets (Katana key, Luca password) and the session cookie searched \
         in stdout and stderr at trace level of 7 commands, `all` first ({} bytes), and in every \
         file beside the store (the store, its WAL, the metrics file, the sandbox state): 0 hits",
        seen.len()
    );
}

#[test]
fn secrets_come_from_the_credentials_directory_without_the_environment() {
    let env = env_with_canaries();
    let creds = tempfile::tempdir().unwrap();
    // As systemd-creds or `kubectl create secret --from-file` write them: a final newline.
    std::fs::write(creds.path().join("katana_api_key"), format!("{KEY}\n")).unwrap();
    std::fs::write(creds.path().join("luca_password"), format!("{PASSWORD}\n")).unwrap();
    let run = |args: &[&str]| {
        env.cmd()
            .args(args)
            .env_remove("KATANA_API_KEY")
            .env_remove("LUCA_PASSWORD")
            .env("CREDENTIALS_DIRECTORY", creds.path())
            .output()
            .unwrap()
    };
    let out = run(&["products", "pull"]);
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    let out = run(&["doctor"]);
    let text = common::stdout(&out);
    assert!(
        text.contains("from the credential file $CREDENTIALS_DIRECTORY/katana_api_key")
            && text.contains("$CREDENTIALS_DIRECTORY/luca_password"),
        "{text}"
    );
    assert!(!text.contains(KEY) && !text.contains(PASSWORD));
    // The environment still wins, as for every setting.
    let out = env
        .cmd()
        .args(["orders", "pull"])
        .env("KATANA_API_KEY", "wrong-key")
        .env("CREDENTIALS_DIRECTORY", creds.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(77));
    // An empty credential file is a configuration error that names it.
    std::fs::write(creds.path().join("luca_password"), "\n").unwrap();
    let out = run(&["products", "pull"]);
    assert_eq!(out.status.code(), Some(78));
    assert!(common::stderr(&out).contains("luca_password is empty"));
}
