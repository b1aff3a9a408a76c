//! Readers for what the NAS prints when asked about its disks. Each takes a probe's stdout,
//! stderr and exit code, and returns the fact or an error that says what was wrong with the
//! answer: an answer that cannot be read is never taken for "nothing found".

use serde::{Deserialize, Serialize};

use super::{Fact, PoolDevice};

/// What one probe printed.
#[derive(Clone, Copy, Debug)]
pub struct Answer<'a> {
    pub stdout: &'a str,
    pub stderr: &'a str,
    pub exit_code: u32,
}

impl Answer<'_> {
    fn failed(&self, what: &str) -> String {
        let said = self.stderr.trim();
        let said = if said.is_empty() { self.stdout.trim() } else { said };
        let said: String = said.chars().take(200).collect();
        if said.is_empty() {
            format!("{what} exited with status {}", self.exit_code)
        } else {
            format!("{what} exited with status {}: {said}", self.exit_code)
        }
    }

    /// The shell could not find the program.
    pub fn not_found(&self) -> bool {
        self.exit_code == 127
    }
}

/// Partitions and holders below a disk, from `lsblk --json --bytes --paths` (Linux).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockTree {
    /// Partition device paths.
    pub partitions: Vec<String>,
    /// Children that are not partitions (md arrays, dm/LVM volumes, crypt): something holds
    /// the disk.
    pub holders: Vec<String>,
    /// Filesystem types lsblk reports on the disk or below it.
    pub fstypes: Vec<String>,
    /// Mount points of the disk or anything below it.
    pub mountpoints: Vec<String>,
}

#[derive(Deserialize)]
struct Lsblk {
    blockdevices: Vec<LsblkNode>,
}

#[derive(Deserialize)]
struct LsblkNode {
    name: String,
    #[serde(rename = "type")]
    kind: Option<String>,
    fstype: Option<String>,
    mountpoint: Option<String>,
    #[serde(default)]
    mountpoints: Vec<Option<String>>,
    #[serde(default)]
    children: Vec<LsblkNode>,
}

fn walk(node: &LsblkNode, tree: &mut BlockTree, top: bool) {
    if let Some(fstype) = node.fstype.as_deref().filter(|f| !f.is_empty()) {
        tree.fstypes.push(fstype.to_owned());
    }
    for mount in node.mountpoint.iter().chain(node.mountpoints.iter().flatten()) {
        if !mount.is_empty() && !tree.mountpoints.contains(mount) {
            tree.mountpoints.push(mount.clone());
        }
    }
    if !top {
        if node.kind.as_deref() == Some("part") {
            tree.partitions.push(node.name.clone());
        } else if !tree.holders.contains(&node.name) {
            tree.holders.push(node.name.clone());
        }
    }
    for child in &node.children {
        walk(child, tree, false);
    }
}

pub fn lsblk(answer: Answer<'_>) -> Fact<BlockTree> {
    if answer.exit_code != 0 {
        return Err(answer.failed("lsblk"));
    }
    let parsed: Lsblk = serde_json::from_str(answer.stdout)
        .map_err(|e| format!("lsblk printed something that is not its JSON ({e})"))?;
    let [disk] = parsed.blockdevices.as_slice() else {
        return Err(format!(
            "lsblk listed {} devices where one disk was asked for",
            parsed.blockdevices.len()
        ));
    };
    let mut tree = BlockTree::default();
    walk(disk, &mut tree, true);
    Ok(tree)
}

/// Partitions from FreeBSD's `gpart show -p <disk>`. A disk without a partition table is not
/// a geom: gpart says so and exits 1, which is the answer "no partitions".
pub fn gpart_show(answer: Answer<'_>) -> Fact<Vec<String>> {
    if answer.exit_code != 0 {
        if answer.stderr.contains("No such geom") {
            return Ok(Vec::new());
        }
        return Err(answer.failed("gpart show"));
    }
    let mut partitions = Vec::new();
    let mut saw_header = false;
    for line in answer.stdout.lines() {
        let line = line.trim();
        if line.starts_with("=>") {
            saw_header = true;
            continue;
        }
        // `<start> <size> <name> <type> (<human size>)`, or `<start> <size> - free - (...)`.
        let words: Vec<&str> = line.split_whitespace().collect();
        if let [start, size, name, ..] = words.as_slice()
            && start.parse::<u64>().is_ok()
            && size.parse::<u64>().is_ok()
            && *name != "-"
        {
            partitions.push(name.to_string());
        }
    }
    if !saw_header {
        return Err("gpart show printed no partition table header".into());
    }
    Ok(partitions)
}

#[derive(Deserialize)]
struct Wipefs {
    signatures: Vec<WipefsSignature>,
}

#[derive(Deserialize)]
struct WipefsSignature {
    #[serde(rename = "type")]
    kind: String,
}

/// Signature types from `wipefs --no-act --json` (Linux). A blank disk prints nothing.
pub fn wipefs(answer: Answer<'_>) -> Fact<Vec<String>> {
    if answer.exit_code != 0 {
        return Err(answer.failed("wipefs"));
    }
    if answer.stdout.trim().is_empty() {
        return Ok(Vec::new());
    }
    let parsed: Wipefs = serde_json::from_str(answer.stdout)
        .map_err(|e| format!("wipefs printed something that is not its JSON ({e})"))?;
    let mut kinds: Vec<String> = Vec::new();
    for signature in parsed.signatures {
        if !kinds.contains(&signature.kind) {
            kinds.push(signature.kind);
        }
    }
    Ok(kinds)
}

/// The filesystem type from FreeBSD's `fstyp -u` (which also knows zfs and geli); "not
/// recognized" is the answer "no signature".
pub fn fstyp(answer: Answer<'_>) -> Fact<Vec<String>> {
    if answer.exit_code != 0 {
        if answer.stderr.contains("filesystem not recognized") {
            return Ok(Vec::new());
        }
        return Err(answer.failed("fstyp"));
    }
    Ok(answer.stdout.split_whitespace().take(1).map(str::to_owned).collect())
}

fn first_fields(text: &str, skip: usize) -> Vec<String> {
    text.lines()
        .skip(skip)
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// Mounted devices from Linux `/proc/mounts` or FreeBSD `mount -p`: the source of each line.
pub fn mounts(answer: Answer<'_>) -> Fact<Vec<String>> {
    if answer.exit_code != 0 {
        return Err(answer.failed("reading the mount table"));
    }
    if answer.stdout.trim().is_empty() {
        // A running system always has a root filesystem: an empty table is a broken answer.
        return Err("the mount table came back empty".into());
    }
    Ok(first_fields(answer.stdout, 0))
}

/// Swap devices from Linux `/proc/swaps` (a header line, then one device per line).
pub fn proc_swaps(answer: Answer<'_>) -> Fact<Vec<String>> {
    if answer.exit_code != 0 {
        return Err(answer.failed("reading /proc/swaps"));
    }
    if !answer.stdout.starts_with("Filename") {
        return Err("/proc/swaps does not start with its header".into());
    }
    Ok(first_fields(answer.stdout, 1))
}

/// Swap devices from FreeBSD `swapctl -l`; an encrypted one (`ada0p1.eli`) counts as its
/// partition.
pub fn swapctl(answer: Answer<'_>) -> Fact<Vec<String>> {
    if answer.exit_code != 0 {
        return Err(answer.failed("swapctl -l"));
    }
    if !answer.stdout.starts_with("Device") {
        return Err("swapctl -l does not start with its header".into());
    }
    Ok(first_fields(answer.stdout, 1)
        .into_iter()
        .map(|d| d.trim_end_matches(".eli").to_owned())
        .collect())
}

/// md member devices from `/proc/mdstat` (`md0 : active raid1 sdb1[1] sda1[0]`). No md driver
/// loaded means no file and no arrays.
pub fn mdstat(answer: Answer<'_>) -> Fact<Vec<String>> {
    if answer.exit_code != 0 {
        if answer.stderr.contains("No such file") {
            return Ok(Vec::new());
        }
        return Err(answer.failed("reading /proc/mdstat"));
    }
    let mut members = Vec::new();
    for line in answer.stdout.lines() {
        let Some((name, rest)) = line.split_once(" : ") else { continue };
        if !name.trim().starts_with("md") {
            continue;
        }
        for word in rest.split_whitespace() {
            if let Some((device, _)) = word.split_once('[') {
                members.push(device.to_owned());
            }
        }
    }
    Ok(members)
}

/// Physical volumes from `pvs --noheadings --separator : -o pv_name,vg_name`.
pub fn pvs(answer: Answer<'_>) -> Fact<Vec<String>> {
    if answer.exit_code != 0 {
        return Err(answer.failed("pvs"));
    }
    Ok(answer
        .stdout
        .lines()
        .filter_map(|line| line.trim().split(':').next())
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect())
}

/// Holders from `ls -1 /sys/class/block/<disk>/holders`: one name per line, none when free.
pub fn holders(answer: Answer<'_>) -> Fact<Vec<String>> {
    if answer.exit_code != 0 {
        return Err(answer.failed("listing the disk's holders"));
    }
    Ok(answer.stdout.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect())
}

/// vdev group and section names in a `zpool` config: not devices.
fn is_group(name: &str) -> bool {
    matches!(name, "logs" | "cache" | "spares" | "special" | "dedup")
        || ["mirror-", "raidz1-", "raidz2-", "raidz3-", "draid", "replacing-", "spare-"]
            .iter()
            .any(|prefix| name.starts_with(prefix))
        || name == "mirror"
        || name.starts_with("raidz")
}

/// The devices of each pool in a `zpool status` or `zpool import` listing.
fn pool_configs(text: &str) -> Fact<Vec<PoolDevice>> {
    let mut devices = Vec::new();
    let mut pool: Option<String> = None;
    let mut in_config = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(name) = trimmed.strip_prefix("pool:") {
            pool = Some(name.trim().to_owned());
            in_config = false;
            continue;
        }
        if trimmed.starts_with("config:") {
            in_config = true;
            continue;
        }
        if !in_config || trimmed.is_empty() {
            continue;
        }
        if trimmed.starts_with("errors:") || !line.starts_with(['\t', ' ']) {
            in_config = false;
            continue;
        }
        let Some(name) = trimmed.split_whitespace().next() else { continue };
        let Some(current) = &pool else {
            return Err("a zpool config came before any `pool:` line".into());
        };
        if name == "NAME" || name == current || is_group(name) {
            continue;
        }
        devices.push(PoolDevice { pool: current.clone(), device: name.to_owned() });
    }
    Ok(devices)
}

/// Devices of exported, importable pools from `zpool import -d /dev`. OpenZFS answers "none" with
/// "no pools available to import" on stderr; 2.x exits 0, older releases 1 (cmd/zpool/zpool_main.c),
/// so the message decides, not the exit code.
pub fn zpool_import(answer: Answer<'_>) -> Fact<Vec<PoolDevice>> {
    if !answer.stdout.contains("pool:") && says(&answer, "no pools available to import") {
        return Ok(Vec::new());
    }
    if answer.exit_code != 0 {
        return Err(answer.failed("zpool import"));
    }
    if !answer.stdout.contains("pool:") {
        return Err("zpool import succeeded but listed no pool".into());
    }
    pool_configs(answer.stdout)
}

/// Whether the command's whole answer, on either stream, is exactly `message`.
fn says(answer: &Answer<'_>, message: &str) -> bool {
    let said = format!("{}{}", answer.stdout, answer.stderr);
    said.trim() == message
}

/// Devices of imported pools from `zpool status -P`.
pub fn zpool_status(answer: Answer<'_>) -> Fact<Vec<PoolDevice>> {
    // "no pools available" goes to stderr with exit 0 (cmd/zpool/zpool_main.c).
    if !answer.stdout.contains("pool:") && says(&answer, "no pools available") {
        return Ok(Vec::new());
    }
    if answer.exit_code != 0 {
        return Err(answer.failed("zpool status"));
    }
    if !answer.stdout.contains("pool:") {
        return Err("zpool status listed no pool".into());
    }
    pool_configs(answer.stdout)
}

/// The lines of a compound probe's answer between its `burnin-<what> 1` header and its `end`
/// line: without both, the answer is cut short or something else answered, and a missing line
/// would read as "nothing found".
fn framed<'a>(answer: &Answer<'a>, what: &str, tool: &str) -> Fact<Vec<&'a str>> {
    let marker = format!("burnin-{what} 1");
    let mut lines = answer.stdout.lines().skip_while(|line| line.trim_end() != marker);
    if lines.next().is_none() {
        return Err(answer.failed(tool));
    }
    let mut body = Vec::new();
    for line in lines {
        let line = line.trim_end_matches('\r');
        if line == "end" {
            return Ok(body);
        }
        if let Some(error) = line.strip_prefix("error ") {
            return Err(format!("{tool}: {error}"));
        }
        body.push(line);
    }
    Err(format!("the answer of {tool} is cut short (no end line)"))
}

/// A process that has the disk (or one of its partitions) open.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenBy {
    pub pid: u32,
    pub command: String,
}

/// Processes holding the disk, from the `OpenBy` probe (`/proc/*/fd` on Linux, `fstat` on
/// FreeBSD), one entry per process.
pub fn open_by(answer: Answer<'_>) -> Fact<Vec<OpenBy>> {
    let mut holders: Vec<OpenBy> = Vec::new();
    for line in framed(&answer, "open", "looking for processes that hold the disk")? {
        let mut fields = line.split('\t');
        let (Some("open"), Some(pid), command) = (fields.next(), fields.next(), fields.next())
        else {
            return Err(format!("an unreadable line about an open disk: {line:?}"));
        };
        let pid = pid.trim().parse().map_err(|_| format!("an unreadable process id: {line:?}"))?;
        if !holders.iter().any(|h| h.pid == pid) {
            holders.push(OpenBy { pid, command: command.unwrap_or("").trim().to_owned() });
        }
    }
    Ok(holders)
}

/// A burn-in whose processes are alive under the job root, as its folder describes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningBurnin {
    pub dir: String,
    pub group: u32,
    /// From its `target` file; `None` for folders of versions that wrote none.
    pub serial: Option<String>,
    pub device: Option<String>,
    pub path: Option<String>,
}

/// Live burn-ins from the `BurninJobs` probe.
pub fn burnin_jobs(answer: Answer<'_>) -> Fact<Vec<RunningBurnin>> {
    let mut jobs = Vec::new();
    for line in framed(&answer, "jobs", "looking for other burn-ins on the NAS")? {
        let fields: Vec<&str> = line.split('\t').collect();
        let [kind, dir, group, rest @ ..] = fields.as_slice() else {
            return Err(format!("an unreadable line about a burn-in: {line:?}"));
        };
        if *kind != "job" {
            return Err(format!("an unreadable line about a burn-in: {line:?}"));
        }
        let field = |index: usize| rest.get(index).map(|s| s.to_string()).filter(|s| !s.is_empty());
        jobs.push(RunningBurnin {
            dir: dir.trim_end_matches('/').to_owned(),
            group: group.parse().map_err(|_| format!("an unreadable process group: {line:?}"))?,
            serial: field(0),
            device: field(1),
            path: field(2),
        });
    }
    Ok(jobs)
}

/// Who a machine says it is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostIdentity {
    pub hostname: String,
    /// The SHA-256 of `/etc/hostid`, hex, as TrueNAS's `system.host_id` gives it; `None` where
    /// the machine has none (or the API does not offer it).
    pub host_id: Option<String>,
}

/// The `HostIdentity` probe's answer.
pub fn host_identity(answer: Answer<'_>) -> Fact<HostIdentity> {
    let mut identity = HostIdentity::default();
    let mut saw_hostname = false;
    for line in framed(&answer, "host", "reading the NAS's hostname and host id")? {
        match line.split_once('\t') {
            Some(("hostname", name)) => {
                identity.hostname = name.trim().to_owned();
                saw_hostname = true;
            }
            Some(("hostid", digest)) => {
                let digest = digest.trim().to_ascii_lowercase();
                if digest.len() != 64 || !digest.chars().all(|c| c.is_ascii_hexdigit()) {
                    return Err(format!("the host id digest is unreadable: {digest:?}"));
                }
                identity.host_id = Some(digest);
            }
            None if line == "hostid-missing" => identity.host_id = None,
            _ => return Err(format!("an unreadable line about the host: {line:?}")),
        }
    }
    if !saw_hostname || identity.hostname.is_empty() {
        return Err("the NAS did not say its hostname".into());
    }
    Ok(identity)
}

/// A disk's GEOM provider, from FreeBSD's `geom disk list <disk>`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeomDisk {
    pub ident: Option<String>,
    pub mediasize: Option<u64>,
    /// The access counts: `r1w1e1` means a consumer has it open.
    pub mode: String,
}

impl GeomDisk {
    /// Whether anything holds the provider open.
    pub fn is_open(&self) -> bool {
        self.mode.chars().any(|c| c.is_ascii_digit() && c != '0')
    }
}

pub fn geom_disk(answer: Answer<'_>) -> Fact<GeomDisk> {
    if answer.exit_code != 0 {
        return Err(answer.failed("geom disk list"));
    }
    let mut disk = GeomDisk::default();
    let mut providers = 0;
    for line in answer.stdout.lines() {
        let line = line.trim();
        if line.starts_with("Providers:") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("1. Name:") {
            providers += 1;
            let _ = rest;
        } else if let Some(mode) = line.strip_prefix("Mode:") {
            disk.mode = mode.trim().to_owned();
        } else if let Some(size) = line.strip_prefix("Mediasize:") {
            disk.mediasize = size.split_whitespace().next().and_then(|n| n.parse().ok());
        } else if let Some(ident) = line.strip_prefix("ident:") {
            disk.ident = Some(ident.trim().to_owned()).filter(|i| !i.is_empty() && i != "(null)");
        }
    }
    let counts_read =
        disk.mode.starts_with('r') && disk.mode.contains('w') && disk.mode.contains('e');
    if providers != 1 || !counts_read {
        return Err(format!(
            "geom disk list printed no provider with access counts: {:?}",
            answer.stdout.chars().take(200).collect::<String>()
        ));
    }
    Ok(disk)
}

/// Where each path leads, from the `Resolve` probe: `None` for a path that leads nowhere.
pub fn resolved(answer: Answer<'_>) -> Fact<Vec<(String, Option<String>)>> {
    let mut paths = Vec::new();
    for line in framed(&answer, "resolve", "resolving device paths")? {
        let mut fields = line.split('\t');
        let (Some("path"), Some(path)) = (fields.next(), fields.next()) else {
            return Err(format!("an unreadable line about a path: {line:?}"));
        };
        if path.is_empty() {
            continue;
        }
        let target = fields.next().map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned);
        paths.push((path.to_owned(), target));
    }
    Ok(paths)
}
