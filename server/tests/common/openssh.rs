//! A NAS made of real parts on this machine: OpenSSH's `sshd` on a free loopback port (its own
//! host key, authorised key and configuration in a temporary folder), a loop device as the
//! disk, and the real `badblocks`, `lsblk`, `wipefs`, `setsid`… on it. Only what cannot be real
//! here is stood in for (`tests/openssh/README.md`): `smartctl` (a loop device has no SMART)
//! and, where ZFS is not installed, `zpool`. The TrueNAS API side is the simulator, with one
//! drive whose device name is the loop device's and which publishes the real sshd's host key
//! in `ssh.config`, so the product pins it the way it does for a NAS.
//!
//! Needs root (loop devices, root login) and `/usr/sbin/sshd` (`scripts/setup.sh
//! --with-test-tools` installs it); without them the fixture fails, saying so.

use std::{
    io::Read as _,
    net::{Ipv4Addr, TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use burnin_simulator::{DriveSpec, HostSpec, Personality, Protocol, Scenario, Simulator};

use super::TestServer;

const SSHD: &str = "/usr/sbin/sshd";

/// The folder of the stand-ins and the capture, in the repository.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("openssh")
}

/// Runs a command to its end and returns its stdout; panics with its stderr if it fails.
pub fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| panic!("cannot run {program}: {error}"));
    assert!(
        output.status.success(),
        "{program} {} failed ({}): {}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Whether a program is on this machine's `PATH` (or the sbin folders).
pub fn installed(program: &str) -> bool {
    ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .map(|dir| Path::new(dir).join(program))
        .chain(
            std::env::var_os("PATH")
                .map(|path| {
                    std::env::split_paths(&path).map(|d| d.join(program)).collect::<Vec<_>>()
                })
                .unwrap_or_default(),
        )
        .any(|path| path.is_file())
}

/// Fails the test with what to do when the machine cannot host the real-tools NAS.
pub fn require_root_and_tools() {
    let uid = run("id", &["-u"]);
    assert_eq!(
        uid.trim(),
        "0",
        "the OpenSSH tests run as root: they attach loop devices and log in as root over SSH"
    );
    assert!(
        Path::new(SSHD).is_file(),
        "{SSHD} is missing: install the OpenSSH server (scripts/setup.sh --with-test-tools)"
    );
    for tool in ["ssh-keygen", "losetup", "badblocks", "lsblk", "wipefs", "setsid", "python3"] {
        assert!(installed(tool), "{tool} is missing on this machine; the OpenSSH tests need it");
    }
}

/// A sparse file attached as a loop device; detached when dropped (also on a panic).
pub struct LoopDevice {
    /// `/dev/loopN`.
    pub path: String,
    /// `loopN`, as TrueNAS would name the disk.
    pub name: String,
    pub size_bytes: u64,
    pub file: PathBuf,
}

impl LoopDevice {
    /// Attaches a new sparse file of `size_bytes` with `sector_size`-byte sectors. With
    /// `direct_io` the loop driver bypasses the page cache of the backing file, so the I/O
    /// reaches the machine's disk as it would a drive's.
    pub fn create(dir: &Path, size_bytes: u64, sector_size: u32, direct_io: bool) -> LoopDevice {
        let file = dir.join("disk.img");
        std::fs::File::create(&file)
            .and_then(|f| f.set_len(size_bytes))
            .unwrap_or_else(|error| panic!("cannot create {}: {error}", file.display()));
        let sector = sector_size.to_string();
        let mut args = vec!["--find", "--show", "--sector-size", sector.as_str()];
        if direct_io {
            args.push("--direct-io=on");
        }
        let file_arg = file.display().to_string();
        args.push(&file_arg);
        let path = run("losetup", &args).trim().to_owned();
        assert!(path.starts_with("/dev/loop"), "losetup printed {path:?}");
        let name = path.trim_start_matches("/dev/").to_owned();
        LoopDevice { path, name, size_bytes, file }
    }

    /// Writes `bytes` at `offset` (bypassing the page cache's delays: synced).
    pub fn write_at(&self, offset: u64, bytes: &[u8]) {
        use std::{io::Seek as _, io::Write as _};
        let mut device = std::fs::OpenOptions::new()
            .write(true)
            .open(&self.path)
            .unwrap_or_else(|error| panic!("cannot open {} for writing: {error}", self.path));
        device.seek(std::io::SeekFrom::Start(offset)).expect("seek on the loop device");
        device.write_all(bytes).expect("write to the loop device");
        device.sync_all().expect("sync the loop device");
    }

    /// Reads `length` bytes at `offset`.
    pub fn read_at(&self, offset: u64, length: usize) -> Vec<u8> {
        use std::io::Seek as _;
        let mut device = std::fs::File::open(&self.path)
            .unwrap_or_else(|error| panic!("cannot open {}: {error}", self.path));
        device.seek(std::io::SeekFrom::Start(offset)).expect("seek on the loop device");
        let mut bytes = vec![0; length];
        device.read_exact(&mut bytes).expect("read the loop device");
        bytes
    }
}

impl Drop for LoopDevice {
    fn drop(&mut self) {
        // A device still open (a badblocks left running by a failed test) is detached as soon
        // as it is closed: losetup sets autoclear.
        match Command::new("losetup").args(["--detach", &self.path]).output() {
            Ok(output) if output.status.success() => {}
            Ok(output) => eprintln!(
                "losetup --detach {} failed: {}",
                self.path,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
            Err(error) => eprintln!("cannot run losetup --detach {}: {error}", self.path),
        }
    }
}

/// A TCP port on 127.0.0.1 that was free when asked. sshd cannot take a bound socket, so
/// [`Sshd::start`] tries again on another port when another process took this one first.
fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

/// OpenSSH's sshd in the foreground, for root with one authorised key; killed when dropped.
pub struct Sshd {
    pub port: u16,
    /// The host key as an OpenSSH public key line.
    pub host_key: String,
    /// The client's private key (OpenSSH format) and public key line.
    pub client_private_key: String,
    pub client_public_key: String,
    /// Where sshd writes its log (`-e`: to stderr, redirected here).
    pub log: PathBuf,
    child: Child,
}

impl Sshd {
    /// Starts sshd with its files in `dir`. `env` is set in every session (`SetEnv`); its
    /// `PATH` puts `bin` first.
    pub fn start(dir: &Path, bin: &Path, env: &[(&str, String)]) -> Sshd {
        require_root_and_tools();
        // sshd refuses to start without its privilege separation folder, which the package's
        // service unit normally creates at boot.
        std::fs::create_dir_all("/run/sshd").expect("create /run/sshd");
        let host_key_file = dir.join("ssh_host_ed25519_key");
        let client_key_file = dir.join("client_ed25519");
        for (file, comment) in [(&host_key_file, "burnin-test-sshd"), (&client_key_file, "burnin")]
        {
            run(
                "ssh-keygen",
                &[
                    "-q",
                    "-t",
                    "ed25519",
                    "-N",
                    "",
                    "-C",
                    comment,
                    "-f",
                    &file.display().to_string(),
                ],
            );
        }
        let read = |path: PathBuf| {
            std::fs::read_to_string(&path)
                .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
        };
        let host_key = read(host_key_file.with_extension("pub")).trim().to_owned();
        let client_private_key = read(client_key_file.clone());
        let client_public_key = read(client_key_file.with_extension("pub")).trim().to_owned();
        let authorized = dir.join("authorized_keys");
        std::fs::write(&authorized, format!("{client_public_key}\n")).expect("authorized_keys");
        let path = format!(
            "{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            bin.display()
        );
        // A session locale that is not C: the product must override it for every command.
        let mut set_env = format!("PATH={path} LC_ALL=de_DE.UTF-8 LANG=de_DE.UTF-8");
        for (key, value) in env {
            set_env.push_str(&format!(" {key}={value}"));
        }
        for attempt in 1.. {
            let port = free_port();
            let config = dir.join("sshd_config");
            std::fs::write(
                &config,
                format!(
                    "Port {port}\n\
                     ListenAddress 127.0.0.1\n\
                     HostKey {host_key}\n\
                     PidFile {pid}\n\
                     AuthorizedKeysFile {authorized}\n\
                     StrictModes no\n\
                     UsePAM no\n\
                     PermitRootLogin prohibit-password\n\
                     PubkeyAuthentication yes\n\
                     PasswordAuthentication no\n\
                     KbdInteractiveAuthentication no\n\
                     PrintMotd no\n\
                     MaxSessions 64\n\
                     MaxStartups 64\n\
                     SetEnv {set_env}\n",
                    host_key = host_key_file.display(),
                    pid = dir.join("sshd.pid").display(),
                    authorized = authorized.display(),
                ),
            )
            .expect("write sshd_config");
            let log = dir.join("sshd.log");
            let log_file = std::fs::File::create(&log).expect("create the sshd log");
            let child = Command::new(SSHD)
                .arg("-D")
                .arg("-e")
                .arg("-f")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log_file)
                .spawn()
                .unwrap_or_else(|error| panic!("cannot start {SSHD}: {error}"));
            let mut sshd = Sshd {
                port,
                host_key: host_key.clone(),
                client_private_key: client_private_key.clone(),
                client_public_key: client_public_key.clone(),
                log,
                child,
            };
            match sshd.wait_ready() {
                Ok(()) => return sshd,
                Err(taken) if attempt < 10 => eprintln!("{taken}; trying another port"),
                Err(taken) => panic!("{taken}, ten times"),
            }
        }
        unreachable!("the loop returns or panics")
    }

    /// Waits (10 s at most) until this sshd, not another process, listens and answers with
    /// its SSH banner. `Err` when the port was taken before sshd could bind it.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let listening = format!("Server listening on 127.0.0.1 port {}", self.port);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = self.log_text();
                if log.contains("Bind to port") || log.contains("Address already in use") {
                    return Err(format!("port {} was taken before sshd bound it", self.port));
                }
                panic!("sshd exited at start ({status}): {log}");
            }
            if self.log_text().contains(&listening)
                && let Ok(mut stream) = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port))
            {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                let mut banner = [0u8; 8];
                if stream.read_exact(&mut banner).is_ok() && &banner == b"SSH-2.0-" {
                    return Ok(());
                }
            }
            assert!(
                Instant::now() < deadline,
                "sshd did not answer on port {} within 10 s: {}",
                self.port,
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The host key's SHA-256 fingerprint as `ssh-keygen -l` prints it (`SHA256:…`).
    pub fn host_key_fingerprint(&self) -> String {
        let key = russh::keys::PublicKey::from_openssh(&self.host_key).expect("host key");
        key.fingerprint(russh::keys::HashAlg::Sha256).to_string()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the fake NAS looks like.
#[derive(Clone, Debug)]
pub struct NasOptions {
    pub size_bytes: u64,
    pub sector_size: u32,
    pub direct_io: bool,
    pub serial: String,
    /// How long the stand-in's self-tests take, in seconds.
    pub short_seconds: f64,
    pub long_seconds: f64,
    /// Log in as a root-equivalent user whose login shell is BSD csh, as some NASes give root
    /// a csh or zsh: every command must still run under `sh`.
    pub csh_login: bool,
}

impl Default for NasOptions {
    fn default() -> NasOptions {
        NasOptions {
            size_bytes: 256 << 20,
            sector_size: 4096,
            direct_io: true,
            serial: "OCZ-LOOPTEST0001".to_owned(),
            short_seconds: 2.0,
            long_seconds: 3.0,
            csh_login: true,
        }
    }
}

/// The by-id link udev would make for the loop device (no udev runs on a test machine):
/// `ata-<model>_<serial>`, the form of a SATA disk's link. Removed when dropped.
pub struct ByIdLink {
    pub path: PathBuf,
}

impl ByIdLink {
    fn create(model: &str, serial: &str, device_name: &str) -> ByIdLink {
        std::fs::create_dir_all("/dev/disk/by-id").expect("create /dev/disk/by-id");
        let path = PathBuf::from(format!(
            "/dev/disk/by-id/ata-{}_{}",
            burnin::remote::udev_id(model),
            burnin::remote::udev_id(serial)
        ));
        let _ = std::fs::remove_file(&path);
        std::os::unix::fs::symlink(format!("../../{device_name}"), &path)
            .unwrap_or_else(|error| panic!("cannot link {}: {error}", path.display()));
        ByIdLink { path }
    }
}

impl Drop for ByIdLink {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

pub const CSH_USER: &str = "burnin-csh";

/// A uid-0 user whose login shell is csh (OpenSSH's PermitRootLogin applies to it as to
/// root). Created for the test if missing, removed when dropped.
pub struct CshUser {
    created: bool,
}

impl CshUser {
    fn create() -> CshUser {
        let shell = ["/bin/csh", "/usr/bin/csh"]
            .into_iter()
            .find(|shell| Path::new(shell).exists())
            .expect("csh is missing: scripts/setup.sh --with-test-tools installs it");
        let exists = Command::new("id").arg(CSH_USER).output().is_ok_and(|o| o.status.success());
        if !exists {
            run(
                "useradd",
                &["-o", "-u", "0", "-g", "0", "-M", "-d", "/root", "-s", shell, CSH_USER],
            );
            // Without PAM, sshd refuses an account whose password field says locked (`!`);
            // `*` has no password and is not locked: key login only.
            run("usermod", &["-p", "*", CSH_USER]);
        }
        CshUser { created: !exists }
    }
}

impl Drop for CshUser {
    fn drop(&mut self) {
        if self.created {
            let _ = Command::new("userdel").args(["-f", CSH_USER]).output();
        }
    }
}

/// What TrueNAS's `system.host_id` says for this machine: sha256 of /etc/hostid with its
/// surrounding whitespace stripped, or nothing where there is no host id.
fn machine_host_id() -> Option<String> {
    use sha2::Digest as _;
    let bytes = std::fs::read("/etc/hostid").ok()?;
    let trimmed = bytes.trim_ascii();
    (!trimmed.is_empty())
        .then(|| sha2::Sha256::digest(trimmed).iter().map(|b| format!("{b:02x}")).collect())
}

pub const API_KEY: &str = "1-OpenSshLoopbackKey";
pub const HOST_NAME: &str = "nas-openssh";

/// The whole fake NAS. Dropped in field order: sshd, the login user, the by-id link, the loop
/// device, the API, the folder.
pub struct OpenSshNas {
    /// Where the smartctl stand-in keeps its state (and the locales it ran under).
    pub stand_in_dir: PathBuf,
    pub sshd: Sshd,
    pub csh_user: Option<CshUser>,
    pub link: ByIdLink,
    pub device: LoopDevice,
    pub sim: Simulator,
    pub options: NasOptions,
    /// The tools stood in for by scripts (`smartctl`, and `zpool` where ZFS is absent).
    pub stand_ins: Vec<&'static str>,
    pub dir: tempfile::TempDir,
}

impl OpenSshNas {
    pub async fn start(options: NasOptions) -> OpenSshNas {
        require_root_and_tools();
        let dir = tempfile::tempdir().expect("temp dir");
        let device = LoopDevice::create(
            dir.path(),
            options.size_bytes,
            options.sector_size,
            options.direct_io,
        );
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).expect("bin folder");
        let mut stand_ins = vec!["smartctl"];
        if !installed("zpool") {
            stand_ins.push("zpool");
        }
        for tool in &stand_ins {
            let target = bin.join(tool);
            std::fs::copy(data_dir().join(tool), &target).expect("copy a stand-in");
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755))
                .expect("make the stand-in executable");
        }
        let stand_in_dir = dir.path().join("standin");
        std::fs::create_dir_all(&stand_in_dir).expect("stand-in folder");
        let config = serde_json::json!({
            "capture": data_dir().join("sat_xall.json"),
            "devices": {
                device.path.clone(): {
                    "serial": options.serial,
                    "short_seconds": options.short_seconds,
                    "long_seconds": options.long_seconds,
                }
            }
        });
        std::fs::write(stand_in_dir.join("smartctl.json"), config.to_string())
            .expect("stand-in configuration");
        let sshd = Sshd::start(
            dir.path(),
            &bin,
            &[("BURNIN_STANDIN_DIR", stand_in_dir.display().to_string())],
        );
        let stand_in_dir = stand_in_dir.clone();
        let sim = burnin_simulator::start(burnin_simulator::Config::new(Scenario {
            seed: 7,
            speed: 1.0,
            hosts: vec![host_spec(&options, &device, &sshd)],
        }))
        .await
        .expect("the simulated API starts");
        // The API publishes the real sshd's host key and port, as TrueNAS's ssh.config does,
        // and describes this machine: its hostname and host id, which the product compares
        // with what the SSH login finds.
        let hostname = run("hostname", &[]).trim().to_owned();
        sim.hosts[0].with(|state| {
            state.ssh_host_key_pub = Some(sshd.host_key.clone());
            state.ssh_port = sshd.port;
            state.hostname = hostname;
            state.host_id = machine_host_id();
        });
        let link = ByIdLink::create("OCZ-VERTEX2", &options.serial, &device.name);
        let csh_user = options.csh_login.then(CshUser::create);
        OpenSshNas { stand_in_dir, sshd, csh_user, link, device, sim, options, stand_ins, dir }
    }

    /// Adds the host to the dashboard's database at `server_dir` as an operator would: API
    /// address and key, SSH address, user and private key; no host key, so the product pins
    /// the one the API publishes.
    pub async fn register(&self, server_dir: &Path) {
        use burnin_server::{db::Db, hosts::HostStore, secrets::MasterKey};
        let db = Db::open(&format!("sqlite://{}", server_dir.join("burnin.db").display()))
            .await
            .expect("open the database");
        let master = Arc::new(
            MasterKey::load_or_create(&server_dir.join("master.key")).expect("master key"),
        );
        let store = HostStore::new(db.pool().clone(), master);
        let input = burnin::host::HostInput {
            name: HOST_NAME.to_owned(),
            api_url: self.sim.hosts[0].api_url(),
            api_user: "root".to_owned(),
            api_key: Some(API_KEY.to_owned()),
            ssh_host: "127.0.0.1".to_owned(),
            ssh_port: Some(self.sshd.port),
            ssh_user: if self.csh_user.is_some() { CSH_USER } else { "root" }.to_owned(),
            ssh_private_key: Some(self.sshd.client_private_key.clone()),
            ..Default::default()
        };
        store.create(&input, "openssh-test").await.expect("register the host");
        db.pool().close().await;
    }
}

fn host_spec(options: &NasOptions, device: &LoopDevice, sshd: &Sshd) -> HostSpec {
    HostSpec {
        name: HOST_NAME.to_owned(),
        personality: Personality::Scale2510,
        api_key: API_KEY.to_owned(),
        api_user: "root".to_owned(),
        tls: false,
        ssh_user: "root".to_owned(),
        authorized_keys: vec![sshd.client_public_key.clone()],
        drives: vec![DriveSpec {
            serial: options.serial.clone(),
            // The capture's drive (tests/openssh/sat_xall.json): a SATA SSD.
            model: "OCZ-VERTEX2".to_owned(),
            size_bytes: device.size_bytes,
            protocol: Protocol::Ata,
            rotation_rpm: 0,
            wwn: None,
            devname: Some(device.name.clone()),
            idle_temperature_c: 30.0,
            power_on_hours: 1335,
            throughput_mb_s: 250.0,
            physical_sector_bytes: options.sector_size,
            behaviours: Vec::new(),
            slot: None,
        }],
        pools: Vec::new(),
        exported_pools: Vec::new(),
        boot_drives: Vec::new(),
    }
}

/// Polls `GET path` until `done` accepts the answer, or fails after `within`.
pub async fn wait_json_within(
    server: &TestServer,
    path: &str,
    within: Duration,
    mut done: impl FnMut(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + within;
    let mut last = serde_json::Value::Null;
    loop {
        if let Ok(response) = server.client.get(server.url(path)).send().await
            && let Ok(value) = response.json::<serde_json::Value>().await
        {
            if done(&value) {
                return value;
            }
            last = value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition on {path} not reached within {} s; last answer: {last:#}",
            within.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
