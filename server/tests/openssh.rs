//! A burn-in end to end against a NAS of real parts: OpenSSH's sshd on loopback, logged in as
//! a root-equivalent user whose login shell is BSD csh, with a session locale that is not C;
//! the real `badblocks` detached with `setsid` under the real `flock`, on a loop device found
//! through its `/dev/disk/by-id` link (made here as udev would); the real safety probes
//! (`lsblk`, `wipefs`, /proc, sysfs, `find` over /proc/*/fd), read back by offset and parsed.
//! Only `smartctl` (and `zpool` where ZFS is absent) are stand-ins (`tests/openssh/README.md`).
//! The TrueNAS API is the simulator, publishing the real sshd's host key and this machine's
//! hostname and host id. Needs root and `/usr/sbin/sshd`.

use crate::common;

use std::time::Duration;

use common::{
    TestServer,
    openssh::{NasOptions, OpenSshNas, wait_json_within},
};
use serde_json::{Value, json};

/// Data the destructive surface test must overwrite (no signature any probe recognises).
const MARKER: &[u8] = b"burnin openssh test: data that badblocks -w must overwrite";

fn stage<'a>(job: &'a Value, kind: &str) -> &'a Value {
    job["stages"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["kind"] == kind))
        .unwrap_or(&Value::Null)
}

#[tokio::test]
async fn a_whole_burn_in_passes_over_real_ssh_with_the_real_badblocks_on_a_loop_device() {
    let nas = OpenSshNas::start(NasOptions::default()).await;
    eprintln!(
        "NAS: sshd on 127.0.0.1:{}, disk {} ({} bytes), stand-ins: {:?}",
        nas.sshd.port, nas.device.path, nas.device.size_bytes, nas.stand_ins
    );
    let marker_at = nas.device.size_bytes / 2 + 4096 * 3;
    nas.device.write_at(marker_at, MARKER);
    assert_eq!(nas.device.read_at(marker_at, MARKER.len()), MARKER);

    // The real badblocks, held at its start until this test has looked at the job's folder on
    // the NAS: the folder lives only while badblocks runs, a second or two on this small device.
    // The wrapper execs badblocks, so the process the product started is badblocks itself.
    let release = nas.stand_in_dir.join("release-badblocks");
    let real =
        std::process::Command::new("sh").args(["-c", "command -v badblocks"]).output().unwrap();
    let real = String::from_utf8(real.stdout).unwrap().trim().to_owned();
    assert!(real.starts_with('/'), "badblocks is not installed");
    let wrapper = nas.dir.path().join("bin/badblocks");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nwhile [ ! -e '{}' ]; do sleep 0.05; done\nexec {real} \"$@\"\n",
            release.display()
        ),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    let dir = tempfile::tempdir().unwrap();
    nas.register(dir.path()).await;
    let server = TestServer::start_with(dir, |config| {
        config.poll_interval_secs = 1;
        config.temperature_interval_secs = 1;
        config.stage_poll_ms = 100;
        config.stagger_ms = 0;
    })
    .await;

    let drives =
        server.wait_json("/api/v1/drives", |d| d.as_array().is_some_and(|d| d.len() == 1)).await;
    let drive = &drives[0];
    assert_eq!(drive["serial"], nas.options.serial.as_str(), "{drive:#}");
    assert_eq!(drive["devname"], nas.device.name.as_str(), "{drive:#}");
    let id = drive["id"].as_i64().unwrap();

    let response = server
        .client
        .post(server.url("/api/v1/burnin/start"))
        .json(&json!({
            "drive_ids": [id],
            "stages": ["short_test", "long_test", "surface"],
            "operator": "openssh-test",
            "confirm_serial": nas.options.serial,
        }))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "{body:#}\nsshd log:\n{}", nas.sshd.log_text());
    let job = body[0]["id"].as_i64().unwrap();

    // The job's folders on the NAS, by the name the product gives them.
    let folders = |suffix: &str| -> Vec<String> {
        std::fs::read_dir("/var/tmp/burnin")
            .map(|entries| {
                entries
                    .flatten()
                    .map(|entry| entry.file_name().to_string_lossy().into_owned())
                    .filter(|folder| folder.contains(suffix))
                    .collect()
            })
            .unwrap_or_default()
    };
    let ours = format!("-job-{job}-stage-");
    let mut seen_folders: Vec<String> = Vec::new();
    let mut seen_target = String::new();
    // While it runs, every surface percent the API shows is in range and never goes back.
    let mut percents: Vec<f64> = Vec::new();
    let done = wait_json_within(
        &server,
        &format!("/api/v1/burnin/{job}"),
        Duration::from_secs(180),
        |j| {
            let surface = stage(j, "surface");
            if surface["state"] == "running" {
                if let Some(percent) = surface["percent"].as_f64() {
                    percents.push(percent);
                }
                if seen_folders.is_empty() {
                    seen_folders = folders(&ours);
                }
                if seen_target.is_empty()
                    && let Some(folder) = seen_folders.first()
                {
                    seen_target =
                        std::fs::read_to_string(format!("/var/tmp/burnin/{folder}/target"))
                            .unwrap_or_default();
                }
                if !seen_target.is_empty() && !release.exists() {
                    std::fs::write(&release, "").unwrap();
                }
            }
            !matches!(j["state"].as_str(), Some("queued" | "running"))
        },
    )
    .await;
    eprintln!("surface percents seen while it ran: {percents:?}");
    assert_eq!(done["state"], "passed", "{done:#}\nsshd log:\n{}", nas.sshd.log_text());
    let kinds: Vec<&str> =
        done["stages"].as_array().unwrap().iter().map(|s| s["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["precheck", "short_test", "long_test", "surface", "final_check"]);
    for stage in done["stages"].as_array().unwrap() {
        assert_eq!(stage["state"], "passed", "{stage:#}");
    }
    for kind in ["short_test", "long_test"] {
        assert_eq!(stage(&done, kind)["detail"], "completed without error", "{done:#}");
    }
    assert!(
        stage(&done, "precheck")["detail"].as_str().unwrap().starts_with("serial matches"),
        "{done:#}"
    );

    let surface = stage(&done, "surface");
    assert_eq!(surface["bad_blocks"], 0, "{surface:#}");
    assert_eq!(surface["percent"], 100.0, "{surface:#}");
    assert_eq!(surface["block_size"], 4096, "{surface:#}");
    for counter in ["read_errors", "write_errors", "corruption_errors"] {
        assert_eq!(surface[counter], 0, "{surface:#}");
    }
    assert_eq!(surface["detail"], "8 passes completed, 0 bad blocks", "{surface:#}");
    // The last line badblocks wrote to its log on the NAS, read back over SSH.
    assert_eq!(surface["log_tail"], "Pass completed, 0 bad blocks found. (0/0/0 errors)");
    assert!(
        percents.iter().all(|p| (0.0..=100.0).contains(p))
            && percents.windows(2).all(|w| w[0] <= w[1]),
        "surface progress went out of range or backwards: {percents:?}"
    );
    assert_eq!(done["verdict"]["outcome"], "pass", "{done:#}");

    // badblocks really wrote the disk: its last pattern is 0x00.
    assert_eq!(
        nas.device.read_at(marker_at, MARKER.len()),
        vec![0u8; MARKER.len()],
        "the data on the disk was not overwritten"
    );
    // The job's folder on the NAS existed while badblocks ran, named for this dashboard's host
    // record, and was removed once its result was read.
    let name = format!("-job-{job}-stage-{}", surface["position"].as_u64().unwrap());
    assert!(
        seen_folders.iter().any(|folder| folder.ends_with(&name) && folder.len() > name.len()),
        "no folder for the surface stage while it ran: {seen_folders:?}"
    );
    // This run's own folder (another run's, from the same job number, may be there).
    let ours = seen_folders.iter().find(|f| f.ends_with(&name)).cloned().unwrap_or_default();
    assert!(
        !std::path::Path::new("/var/tmp/burnin").join(&ours).exists(),
        "the job's folder {ours} was left behind"
    );
    // badblocks was given the disk's serial-bound path, checked in the shell that started it.
    assert_eq!(
        seen_target,
        format!("{}\n{}\n{}\n", nas.options.serial, nas.device.path, nas.link.path.display()),
        "the job's target as the start recorded it"
    );
    // Its output is kept after the folder went: the whole stderr, ending with the summary.
    let position = surface["position"].as_u64().unwrap();
    let stderr = server
        .client
        .get(server.url(&format!("/api/v1/burnin/{job}/stages/{position}/output/stderr")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(stderr.starts_with("Checking for bad blocks in read-write mode"), "{stderr}");
    assert!(
        stderr.trim_end().ends_with("Pass completed, 0 bad blocks found. (0/0/0 errors)"),
        "{stderr}"
    );
    // Every command ran under sh with the C locale, though the login shell was csh and the
    // session's locale German.
    let shell = std::fs::read_to_string("/etc/passwd")
        .unwrap()
        .lines()
        .find(|line| line.starts_with(&format!("{}:", common::openssh::CSH_USER)))
        .map(|line| line.rsplit(':').next().unwrap_or("").to_owned())
        .unwrap_or_default();
    assert!(shell.ends_with("csh"), "the login shell was {shell:?}");
    let locales = std::fs::read_to_string(nas.stand_in_dir.join("locales")).unwrap();
    assert!(locales.lines().count() > 5, "{locales}");
    assert!(locales.lines().all(|l| l == "C"), "smartctl ran under {locales:?}");

    // The SSH host key was pinned from the NAS's own ssh.config, never trusted blindly.
    let hosts = server.get_json("/api/v1/hosts").await;
    assert_eq!(hosts[0]["ssh_host_key_fingerprint"], nas.sshd.host_key_fingerprint(), "{hosts:#}");

    // The evidence: the after-snapshot is the drive's own answer, both self-tests logged.
    let after = server.get_json(&format!("/api/v1/burnin/{job}/smart/after")).await;
    assert_eq!(after["serial_number"], nas.options.serial.as_str());
    let logged: Vec<&str> = after["ata_smart_self_test_log"]["extended"]["table"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["type"]["string"].as_str().unwrap())
        .collect();
    assert_eq!(logged, ["Extended offline", "Short offline"], "{after:#}");

    let pool = sqlx::SqlitePool::connect(&server.database_url()).await.unwrap();
    let (started,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM audit_events WHERE action = 'burnin.surface.start'")
            .fetch_one(&pool)
            .await
            .unwrap();
    pool.close().await;
    assert_eq!(started, 1, "the destructive command was audited once");
}
