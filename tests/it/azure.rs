//! The lake on Azure Blob Storage's emulator, Azurite (npm `azurite`), on
//! loopback, started and stopped here: conditional creates refused by the
//! server itself, and submit → intake → run with the golden tables. The lake
//! is reached through object_store's own Azure configuration
//! (`AZURE_STORAGE_ACCOUNT_NAME`, `…_KEY`, `…_ENDPOINT`, `AZURE_ALLOW_HTTP`). `scripts/test`
//! installs Azurite and sets FEDREPORT_REQUIRE_AZURITE=1, so in CI a missing
//! server fails instead of skipping.

use std::process::{Child, Command};

use fedreport_store::Lake;
use fedreport_store::lake::Created;

use crate::repo;
use crate::s3::{LakeServer, assert_golden_tables, golden_lake_on, golden_run, text};
use crate::support::{free_port, spawn_server};

/// An Azurite blob server on a free loopback port, with one container; killed on drop.
struct Azurite {
    child: Child,
    endpoint: String,
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Azurite {
    fn start(container: &str) -> Option<Azurite> {
        let port = free_port("FEDREPORT_REQUIRE_AZURITE")?;
        let mut cmd = Command::new("azurite-blob");
        cmd.args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string(), "--inMemoryPersistence", "--silent"])
            .arg("--skipApiVersionCheck");
        let child = spawn_server(cmd, port, "azurite-blob", "FEDREPORT_REQUIRE_AZURITE", "npm install -g azurite")?;
        let server = Azurite { child, endpoint: format!("http://127.0.0.1:{port}") };
        let made = Command::new("python3")
            .arg(repo().join("tests/support/azurite_container.py"))
            .args([&server.endpoint, container])
            .status();
        assert!(made.is_ok_and(|s| s.success()), "could not create container {container} on Azurite");
        Some(server)
    }

    fn options(&self) -> Vec<(String, String)> {
        self.env().into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect()
    }
}

impl LakeServer for Azurite {
    fn env(&self) -> Vec<(&'static str, String)> {
        // Azurite's well-known development account, reached as any Azure endpoint would be.
        vec![
            ("AZURE_STORAGE_ACCOUNT_NAME", "devstoreaccount1".into()),
            (
                "AZURE_STORAGE_ACCOUNT_KEY",
                "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==".into(),
            ),
            ("AZURE_STORAGE_ENDPOINT", format!("{}/devstoreaccount1", self.endpoint)),
            ("AZURE_ALLOW_HTTP", "true".into()),
        ]
    }

    fn lake(&self, url: &str) -> Lake {
        Lake::open_with(url, &self.options()).expect("a lake on Azurite")
    }
}

#[test]
fn the_chain_runs_on_azure_and_creates_are_conditional() {
    let Some(azurite) = Azurite::start("returns") else { return };
    let url = "az://returns/bali";
    let lake = azurite.lake(url);
    // the server itself refuses a second create of a key
    crate::block_on(async {
        assert_eq!(lake.put_new("probe/once", "a".into()).await.unwrap(), Created::Written);
        assert_eq!(lake.put_new("probe/once", "b".into()).await.unwrap(), Created::AlreadyExists);
        assert_eq!(lake.get("probe/once").await.unwrap().as_ref(), b"a");
    });
    let dir = tempfile::tempdir().unwrap();
    golden_lake_on(&azurite, url, dir.path());
    let out = dir.path().join("out");
    let o = golden_run(&azurite, url, &out, &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert_golden_tables(&out, "on Azure");
    let o = azurite.fedreport(&["receipts", "--lake", url, "--member", "NZL"]);
    assert!(text(&o).contains("REJECTED"), "{}", text(&o));
}
