//! The node binaries start and explain themselves, and the lake's settings
//! survive the trip through Ballista's key/value session configuration.
//! (The golden pipeline on a cluster is in `tests/it/ballista.rs`.)

use std::process::Command;

use datafusion::prelude::SessionConfig;
use fedreport_distributed::{LakeOptions, config_producer, runtime_from_config};

#[test]
fn both_binaries_take_ballistas_options() {
    for (bin, option) in [
        (env!("CARGO_BIN_EXE_fedreport-scheduler"), "--bind-port"),
        (env!("CARGO_BIN_EXE_fedreport-executor"), "--scheduler-host"),
    ] {
        let o = Command::new(bin).arg("--help").output().unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success() && text.contains(option), "{bin}: {text}");
    }
}

#[test]
fn lake_settings_travel_as_key_values() {
    let dir = tempfile::tempdir().unwrap();
    let url = url::Url::from_directory_path(dir.path()).unwrap().to_string();
    // What the client sends: every option as a key and a string value.
    let sent = SessionConfig::new().with_option_extension(LakeOptions {
        lake: url.clone(),
        store_options: "aws_region=eu-west-1\naws_allow_http=true".into(),
    });
    let pairs: Vec<(String, String)> = sent
        .options()
        .entries()
        .into_iter()
        .filter(|e| e.key.starts_with("fedreport."))
        .filter_map(|e| Some((e.key, e.value?)))
        .collect();
    assert_eq!(pairs.len(), 2, "{pairs:?}");
    // What a node rebuilds from them.
    let mut received = config_producer();
    for (k, v) in &pairs {
        received.options_mut().set(k, v).unwrap();
    }
    let o = received.options().extensions.get::<LakeOptions>().unwrap();
    assert_eq!(o.lake, url);
    assert!(o.store_options.contains("aws_region=eu-west-1"));
    let runtime = runtime_from_config(&received).unwrap();
    let store_url = url::Url::parse("file:///").unwrap();
    assert!(
        runtime
            .object_store(datafusion::execution::object_store::ObjectStoreUrl::parse(store_url.as_str()).unwrap())
            .is_ok()
    );
}

#[test]
fn a_bad_lake_in_the_configuration_is_an_error_not_a_panic() {
    let mut c = config_producer();
    c.options_mut().set("fedreport.lake", "ftp://nowhere/lake").unwrap();
    let e = runtime_from_config(&c).unwrap_err().to_string();
    assert!(e.contains("ftp"), "{e}");
}
