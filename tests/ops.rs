//! Operations: `doctor`'s findings (a broken config, a missing series, an unmapped
//! location), `mapping init` (TOML that makes `doctor` pass), the systemd units
//! (`systemd-analyze verify` where it exists) and the Kubernetes manifests.

mod common;

use common::{Env, Tool, clean};
use serde_json::Value;

fn check<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {v:#}"))
}

fn set_config(env: &Env, text: &str) {
    std::fs::write(env.config_path(), text).unwrap();
}

#[test]
fn doctor_names_a_broken_config_a_missing_series_and_an_unmapped_location() {
    let env = Env::new(clean(10, 4, 5), Tool::default()).in_process();
    let good = std::fs::read_to_string(env.config_path()).unwrap();

    // The harness maps 1001 and 1002 only, with no default: 1003 is unmapped.
    let (code, v) = env.run_json(&["doctor"]);
    assert_eq!(code, 1, "{v:#}");
    let w = check(&v, "warehouses");
    assert_eq!(w["ok"], false);
    assert!(
        w["message"]
            .as_str()
            .unwrap()
            .contains("1003 Ankara Showroom"),
        "{w:#}"
    );
    assert!(w["fix"].as_str().unwrap().contains("mapping init"), "{w:#}");
    assert_eq!(check(&v, "invoice series")["ok"], true);
    assert_eq!(check(&v, "units")["ok"], true);
    assert_eq!(check(&v, "tax rates")["ok"], true);

    set_config(
        &env,
        &good.replace("[mapping]\n", "[mapping]\ninvoice_series = \"ZZ\"\n"),
    );
    let (code, v) = env.run_json(&["doctor"]);
    assert_eq!(code, 1);
    let s = check(&v, "invoice series");
    assert_eq!(s["ok"], false);
    let msg = s["message"].as_str().unwrap();
    assert!(
        msg.contains("\"ZZ\"") && msg.contains("A, EFA2025"),
        "{msg}"
    );

    // Despatch notes on: their series is checked too (and only then).
    assert!(
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["name"] != "despatch series")
    );
    set_config(
        &env,
        &good
            .replace("[sync]\n", "[sync]\ndespatches = true\n")
            .replace("[mapping]\n", "[mapping]\ndespatch_series = \"ZZ\"\n"),
    );
    let (code, v) = env.run_json(&["doctor"]);
    assert_eq!(code, 1);
    assert_eq!(check(&v, "invoice series")["ok"], true);
    let d = check(&v, "despatch series");
    assert_eq!(d["ok"], false, "{d:#}");
    assert!(d["message"].as_str().unwrap().contains("\"ZZ\""), "{d:#}");
    assert!(
        d["fix"].as_str().unwrap().contains("despatch_series"),
        "{d:#}"
    );
    set_config(
        &env,
        &good.replace("[sync]\n", "[sync]\ndespatches = true\n"),
    );
    let (_, v) = env.run_json(&["doctor"]);
    assert_eq!(check(&v, "despatch series")["ok"], true, "{v:#}");

    set_config(&env, &good.replace("page_size = 250", "page_size = 0"));
    let (code, v) = env.run_json(&["doctor"]);
    assert_eq!(code, 78);
    let c = check(&v, "config");
    assert_eq!(c["ok"], false);
    assert!(
        c["message"].as_str().unwrap().contains("katana.page_size"),
        "{c:#}"
    );
    assert!(c["fix"].is_string());
}

#[test]
fn mapping_init_proposes_toml_that_makes_doctor_pass() {
    let env = Env::new(clean(10, 6, 5), Tool::default()).in_process();
    let full = std::fs::read_to_string(env.config_path()).unwrap();
    let base = &full[..full.find("[mapping]").unwrap()];
    set_config(&env, base);
    let out = env.run(&["mapping", "init"]);
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    let proposal = common::stdout(&out);
    let parsed: toml::Table =
        toml::from_str(&proposal).unwrap_or_else(|e| panic!("{e}\n{proposal}"));
    let m = parsed["mapping"].as_table().unwrap();
    assert_eq!(m["invoice_series"].as_str(), Some("A"));
    assert_eq!(m["warehouses"]["1002"].as_str(), Some("002"), "{proposal}");
    assert_eq!(m["units"]["pcs"].as_integer(), Some(5), "{proposal}");
    assert!(
        proposal.contains("Katana İzmir Depo = Luca 002 İzmir Depo"),
        "{proposal}"
    );
    assert!(
        proposal.contains("# \"1001\" = \"001\"")
            && proposal.contains("candidates: 001 Merkez Depo"),
        "an unmatched location stays commented out with its candidates: {proposal}"
    );
    assert_eq!(env.stats().luca.creates.stock_card, 0, "it writes nothing");
    assert!(!env.db().exists(), "nor a store");

    set_config(&env, &format!("{base}{proposal}"));
    let (code, v) = env.run_json(&["doctor"]);
    assert_eq!(code, 0, "{v:#}");
}

#[test]
fn the_systemd_units_verify() {
    let units = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd");
    let service = std::fs::read_to_string(units.join("katana-sync@.service")).unwrap();
    for needed in [
        "Type=oneshot",
        "SuccessExitStatus=75",
        "ExecStart=/usr/local/bin/katana-sync -q all --due",
        "LoadCredentialEncrypted=katana_api_key:",
        "LoadCredentialEncrypted=luca_password:",
        "DynamicUser=yes",
        "StateDirectory=",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "RestrictAddressFamilies=",
        "SystemCallFilter=@system-service",
        "OnFailure=",
    ] {
        assert!(
            service.contains(needed),
            "katana-sync@.service lacks {needed}"
        );
    }
    assert_eq!(
        service.matches("\nExecStart=").count(),
        1,
        "one command: a chain of ExecStart= stops at the first exit 1"
    );
    let Ok(probe) = std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
    else {
        eprintln!("no systemd-analyze here; the unit texts were checked above");
        return;
    };
    assert!(probe.status.success());
    // Instances of the templates, with ExecStart= pointing at the binary under test.
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_katana-sync");
    let mut names = Vec::new();
    for file in [
        "katana-sync@.service",
        "katana-sync@.timer",
        "katana-sync-failure@.service",
    ] {
        let text = std::fs::read_to_string(units.join(file))
            .unwrap()
            .replace("/usr/local/bin/katana-sync", bin);
        let name = file.replace("@.", "@demo.");
        std::fs::write(dir.path().join(&name), text).unwrap();
        names.push(dir.path().join(name));
    }
    let out = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .args(&names)
        .env("SYSTEMD_UNIT_PATH", format!("{}:", dir.path().display()))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    // Only what the units say counts; a host without the credential files or mail is
    // not the units' fault.
    let problems: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("katana-sync"))
        .filter(|l| !l.contains(".cred") && !l.contains("/bin/sh") && !l.contains("mail"))
        .collect();
    assert!(problems.is_empty(), "systemd-analyze verify:\n{err}");
}

#[test]
fn the_kubernetes_manifests_hold_what_a_tenant_needs() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/k8s");
    let mut files = 0;
    for file in std::fs::read_dir(&dir).unwrap() {
        let path = file.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        files += 1;
        let text = std::fs::read_to_string(&path).unwrap();
        let docs: Vec<serde_json::Value> = serde_norway::Deserializer::from_str(&text)
            .map(|d| serde::Deserialize::deserialize(d).expect("valid YAML"))
            .collect();
        let kind = |k: &str| docs.iter().find(|d| d["kind"] == k);
        let pvc = kind("PersistentVolumeClaim").expect("a claim for the store");
        let cron = kind("CronJob").unwrap_or_else(|| panic!("{} has no CronJob", path.display()));
        assert_eq!(cron["apiVersion"], "batch/v1");
        assert_eq!(cron["spec"]["concurrencyPolicy"], "Forbid");
        assert!(cron["spec"]["schedule"].is_string());
        let pod = &cron["spec"]["jobTemplate"]["spec"]["template"]["spec"];
        assert_eq!(pod["restartPolicy"], "Never");
        let volumes = pod["volumes"].as_array().unwrap();
        let claim = volumes
            .iter()
            .find_map(|v| v["persistentVolumeClaim"]["claimName"].as_str())
            .expect("the store on a claim");
        assert_eq!(claim, pvc["metadata"]["name"].as_str().unwrap());
        let secret = volumes
            .iter()
            .find(|v| v["secret"].is_object())
            .expect("secrets as files");
        let keys: Vec<&str> = secret["secret"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["path"].as_str().unwrap())
            .collect();
        assert_eq!(keys, ["katana_api_key", "luca_password"]);
        let c = &pod["containers"][0];
        let args: Vec<&str> = c["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert!(args.ends_with(&["all", "--due"]), "{args:?}");
        let env: Vec<(&str, &str)> = c["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["name"].as_str().unwrap(),
                    e["value"].as_str().unwrap_or(""),
                )
            })
            .collect();
        let creds = env
            .iter()
            .find(|(n, _)| *n == "CREDENTIALS_DIRECTORY")
            .expect("CREDENTIALS_DIRECTORY")
            .1;
        let secret_mount = c["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == secret["name"])
            .expect("the secret mounted");
        assert_eq!(secret_mount["mountPath"], creds);
        assert!(
            !env.iter()
                .any(|(n, _)| *n == "KATANA_API_KEY" || *n == "LUCA_PASSWORD"),
            "no secret in the environment"
        );
    }
    assert!(files >= 2, "one manifest per tenant");
}
