//! The binary as an operator runs it: help, logs, signals.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

const BIN: &str = env!("CARGO_BIN_EXE_burnin-server");

struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Running {
    fn start(args: &[&str]) -> (Running, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("burnin.db").display());
        let mut child = Command::new(BIN)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--database-url",
                &url,
                "--shutdown-grace-secs",
                "2",
                "--simulator",
                "never",
            ])
            .args(args)
            .env_remove("BURNIN_LOG_FORMAT")
            .env_remove("BURNIN_ENV")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        (Running { child, lines }, dir)
    }

    fn wait_for_line(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        panic!("no log line containing {needle:?}");
    }

    fn signal(&self, name: &str) {
        let status =
            Command::new("kill").args(["-s", name, &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
    }

    fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "server did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

#[test]
fn help_shows_every_default_and_its_environment_variable() {
    let output = Command::new(BIN).arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for needle in [
        "[env: BURNIN_LISTEN=] [default: 127.0.0.1:3000]",
        "[env: BURNIN_DATABASE_URL=] [default: sqlite://data/burnin.db]",
        "[env: BURNIN_ENV=] [default: development]",
    ] {
        assert!(help.contains(needle), "--help lacks {needle:?}:\n{help}");
    }
}

#[test]
fn sigterm_stops_the_server_cleanly() {
    let (mut server, _dir) = Running::start(&[]);
    server.wait_for_line("serving the burn-in dashboard");
    server.signal("TERM");
    server.wait_for_line("SIGTERM");
    assert!(server.wait_exit().success());
}

#[test]
fn sigint_stops_the_server_cleanly() {
    let (mut server, _dir) = Running::start(&[]);
    server.wait_for_line("serving the burn-in dashboard");
    server.signal("INT");
    server.wait_for_line("SIGINT");
    assert!(server.wait_exit().success());
}

#[test]
fn production_logs_are_json_lines_with_dotted_fields() {
    let (mut server, _dir) = Running::start(&["--environment", "production"]);
    let line = server.wait_for_line("serving the burn-in dashboard");
    let event: serde_json::Value = serde_json::from_str(&line).expect("a JSON log line");
    assert_eq!(event["level"], "INFO");
    assert!(event["http.address"].as_str().unwrap().starts_with("127.0.0.1:"), "{event}");
    server.signal("TERM");
    assert!(server.wait_exit().success());
}

#[test]
fn a_port_in_use_fails_with_a_message_that_names_the_fix() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(BIN)
        .args(["--listen", &address, "--simulator", "never", "--database-url"])
        .arg(format!("sqlite://{}", dir.path().join("b.db").display()))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&address) && stderr.contains("--listen"), "{stderr}");
}

/// CPU seconds (user + system) a process has used, from `/proc/<pid>/stat`.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The command name (field 2) may hold spaces; the fields after its closing ')' do not.
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    let per_second = Command::new("getconf").arg("CLK_TCK").output().unwrap();
    let per_second: f64 = String::from_utf8_lossy(&per_second.stdout).trim().parse().unwrap();
    ticks as f64 / per_second
}

/// A server with nothing to do sleeps: every background loop waits on an interval, a
/// deadline that moves forward, or a message. A loop that wakes at once (a deadline left in
/// the past) burns a whole core; this bound sits far above an idle server's few milliseconds and
/// far below a spinning loop's share, even on a loaded machine.
#[test]
#[cfg(target_os = "linux")]
fn an_idle_server_sleeps() {
    let (server, _dir) = Running::start(&[]);
    server.wait_for_line("serving the burn-in dashboard");
    let pid = server.child.id();
    let started = Instant::now();
    let before = cpu_seconds(pid);
    std::thread::sleep(Duration::from_secs(5));
    let used = cpu_seconds(pid) - before;
    let share = used / started.elapsed().as_secs_f64();
    assert!(
        share < 0.2,
        "the idle server used {used:.2} s of CPU in {:.1} s ({:.0} % of a core): a background loop spins",
        started.elapsed().as_secs_f64(),
        share * 100.0
    );
}
