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
    runtime_from_config(&received).unwrap();
}

/// A node given an S3 lake only through the configuration (no AWS_*
/// variables needed) has that bucket's store; a plain runtime would not.
#[test]
fn an_s3_lake_from_the_configuration_is_registered_on_the_node() {
    use datafusion::execution::object_store::ObjectStoreUrl;
    let mut c = config_producer();
    c.options_mut().set("fedreport.lake", "s3://returns/bali/").unwrap();
    c.options_mut()
        .set(
            "fedreport.store_options",
            "aws_region=us-east-1\naws_endpoint=http://127.0.0.1:9\naws_allow_http=true\naws_access_key_id=a\naws_secret_access_key=b",
        )
        .unwrap();
    let bucket = ObjectStoreUrl::parse("s3://returns/").unwrap();
    assert!(runtime_from_config(&c).unwrap().object_store(&bucket).is_ok());
    assert!(runtime_from_config(&config_producer()).unwrap().object_store(&bucket).is_err());
}

#[test]
fn a_bad_lake_in_the_configuration_is_an_error_not_a_panic() {
    let mut c = config_producer();
    c.options_mut().set("fedreport.lake", "ftp://nowhere/lake").unwrap();
    let e = runtime_from_config(&c).unwrap_err().to_string();
    assert!(e.contains("ftp"), "{e}");
}
