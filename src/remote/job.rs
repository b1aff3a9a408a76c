//! The detached job's protocol on the NAS: start once, stop, abandon, remove, and the probes
//! that look at other jobs and at who holds a disk.
//!
//! A job lives in its own folder. Its files say where it stands, and each is written whole
//! (`x.tmp` then `mv`), so a reader never sees half of one:
//! - `claim/`: made with `mkdir`, which is atomic. The start makes it before anything else and
//!   gives up if it exists, so a folder is started at most once. An abandon makes it too (with
//!   `claim/abandoned`), so a start still on its way after the dashboard gave up on it finds the
//!   folder claimed and never runs.
//! - `target`: the serial, the device name and the path the program was given.
//! - `group`: the process group of the detached job (the pid of its session leader).
//! - `started`: written once the disk's lock is held, right before the program runs.
//! - `refused`: one line saying why the program did not run (`identity …` or `busy …`).
//! - `exit_code`, `stdout.log`, `stderr.log`: the program's.
//!
//! The start checks the disk in the same shell, right before it detaches the program: on Linux
//! the disk is found through `/dev/disk/by-id`, whose names carry the serial, and must resolve
//! to the recorded device and have the recorded size; on FreeBSD `geom disk list` must report
//! the recorded serial (`ident`) and size. badblocks is given the serial-bound path where there
//! is one, so it opens the disk with that serial, whatever `sdX` is called by then.
//!
//! The lock is a file per disk (by serial) under the job root, held with `flock` (Linux) or
//! `lockf` (FreeBSD) by the job's processes for as long as any of them lives: a second writer
//! for the same disk, from this dashboard or another one sharing the root, finds it held and
//! is refused with its own exit code. A lock held by a file descriptor cannot go stale: it
//! ends with the last process holding it, however that process ends.

use serde::{Deserialize, Serialize};

use super::{
    CommandError, DevicePath, JobDir, Os, Program, RemoteCommand, files, parse_badblocks_options,
    partition_glob, quote, split_words,
};

/// Exit codes of the job commands, from sysexits(3) where one fits.
pub mod exit_codes {
    /// The identity check failed: the disk at the recorded name is not the recorded one.
    pub const IDENTITY: u32 = 65;
    /// The job's folder could not be made or written.
    pub const CANNOT_WRITE: u32 = 71;
    /// The start could not confirm within its wait that the program runs.
    pub const UNCONFIRMED: u32 = 70;
    /// The folder was already claimed: by an earlier start, or by an abandon.
    pub const CLAIMED: u32 = 73;
    /// The disk's lock is held: another writer runs on it. Also `lockf`'s own code for a lock
    /// it could not get, and `flock -E 75`'s.
    pub const BUSY: u32 = 75;
}

/// The disk a destructive program is aimed at, as the dashboard recorded it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Target {
    /// `/dev/<name>` as the API reported it.
    pub device: DevicePath,
    pub serial: String,
    /// The world wide name as TrueNAS reports it (`disk.query.lunid`: hex without `0x` or
    /// `eui.`); empty when the disk has none. A SAS disk's by-id links carry it, not the serial.
    pub lunid: String,
    pub size_bytes: u64,
}

impl Target {
    pub fn new(
        device: DevicePath,
        serial: &str,
        lunid: &str,
        size_bytes: u64,
    ) -> Result<Target, CommandError> {
        let serial = serial.trim();
        let printable = serial.chars().all(|c| c.is_ascii_graphic() || c == ' ');
        if serial.is_empty() || serial.len() > 64 || !printable {
            return Err(CommandError::BadSerial(serial.to_owned()));
        }
        let lunid = lunid.trim().trim_start_matches("0x").to_ascii_lowercase();
        if lunid.len() > 64 || !lunid.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(CommandError::BadLunid(lunid));
        }
        Ok(Target { device, serial: serial.to_owned(), lunid, size_bytes })
    }

    /// The `/dev/disk/by-id` names bound to this disk's world wide name (SCSI/SAS disks have
    /// no link ending in their serial, only these).
    pub fn wwn_links(&self) -> Vec<String> {
        if self.lunid.is_empty() {
            return Vec::new();
        }
        let id = &self.lunid;
        vec![format!("wwn-0x{id}"), format!("scsi-3{id}"), format!("nvme-eui.{id}")]
    }
}

/// The serial as udev writes it into `/dev/disk/by-id` names: surrounding whitespace dropped,
/// each run of inner whitespace one `_`, and every character outside `0-9A-Za-z#+-.:=@_`
/// replaced by `_` (systemd's `udev_replace_whitespace` and `udev_replace_chars`).
pub fn udev_id(serial: &str) -> String {
    let mut out = String::new();
    let mut space = false;
    for c in serial.trim().chars() {
        if c.is_whitespace() {
            space = true;
            continue;
        }
        if space {
            out.push('_');
            space = false;
        }
        out.push(if c.is_ascii_alphanumeric() || "#+-.:=@_".contains(c) { c } else { '_' });
    }
    out
}

/// The disk's lock file under the job root: named by its serial, so it holds for the disk
/// whatever device name it has, with a digest of the exact serial so that two serials that
/// sanitize alike still get their own lock.
pub fn lock_file(root: &str, serial: &str) -> Result<JobDir, CommandError> {
    let safe: String = serial
        .trim()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '_' })
        .take(64)
        .collect();
    // FNV-1a: stable across builds and platforms, unlike std's hasher.
    let digest = serial.trim().bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    JobDir::new(format!("{}/locks/{safe}-{:08x}.lock", root.trim_end_matches('/'), digest >> 32))
}

/// Which signal a stop sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    Term,
    Kill,
}

impl Signal {
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Term => "TERM",
            Signal::Kill => "KILL",
        }
    }

    fn parse(s: &str) -> Option<Signal> {
        [Signal::Term, Signal::Kill].into_iter().find(|signal| signal.as_str() == s)
    }
}

impl RemoteCommand {
    /// A start, checked: the program must be aimed at the target.
    pub fn start(
        os: Os,
        dir: JobDir,
        lock: JobDir,
        target: Target,
        program: Program,
    ) -> Result<RemoteCommand, CommandError> {
        if program.device() != &target.device {
            return Err(CommandError::TargetMismatch {
                program: program.device().as_str().to_owned(),
                target: target.device.as_str().to_owned(),
            });
        }
        match &program {
            Program::Badblocks(badblocks) => badblocks.validate()?,
        }
        Ok(RemoteCommand::Start { os, dir, lock, target, program })
    }
}

/// The group id of a job, from `group` or from the `pid` file earlier versions wrote (the
/// same number: the pid of the detached session leader).
const READ_GROUP: &str = "g=$(cat group 2>/dev/null || cat pid 2>/dev/null)";

/// The header every compound command starts with: `:` ignores its arguments, and they carry
/// the typed value so the simulator can parse the line back.
fn header(kind: &str, words: &[String]) -> String {
    let mut line = format!(": burnin-{kind}");
    for word in words {
        line.push(' ');
        line.push_str(&quote(word));
    }
    line.push_str("; ");
    line
}

fn os_word(os: Os) -> &'static str {
    match os {
        Os::Linux => "linux",
        Os::FreeBsd => "freebsd",
    }
}

fn parse_os(word: &str) -> Option<Os> {
    match word {
        "linux" => Some(Os::Linux),
        "freebsd" => Some(Os::FreeBsd),
        _ => None,
    }
}

/// The words of a header, and the rest of the line after its `; `.
fn split_header(line: &str) -> Option<(String, Vec<String>)> {
    let rest = line.strip_prefix(": burnin-")?;
    let mut in_quote = false;
    let mut escaped = false;
    for (index, c) in rest.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            // `quote` writes an embedded quote as `'\''`: the `\'` stands outside the quotes.
            '\\' if !in_quote => escaped = true,
            '\'' => in_quote = !in_quote,
            ';' if !in_quote => {
                let words = split_words(&rest[..index])?;
                let (kind, args) = words.split_first()?;
                return Some((kind.clone(), args.to_vec()));
            }
            _ => {}
        }
    }
    None
}

/// The identity check: sets `dev` to the serial-bound path, or `why` to the reason it failed.
fn identity_check(os: Os, target: &Target) -> String {
    let device = target.device.as_str();
    let name = target.device.name();
    let serial = quote(&target.serial);
    match os {
        Os::Linux => {
            let id = quote(&udev_id(&target.serial));
            let wwn: String = target.wwn_links().iter().map(|link| format!("|{link}")).collect();
            let sectors = if target.size_bytes.is_multiple_of(512) {
                (target.size_bytes / 512).to_string()
            } else {
                // No whole number of sectors can match: the size check will say so.
                format!("{}/512", target.size_bytes)
            };
            format!(
                "why=''; dev=''; for l in /dev/disk/by-id/*; do n=${{l##*/}}; \
                 case $n in *-part[0-9]*) continue;; esac; \
                 case $n in *_{id}|*-{id}|*_{id}_[0-9]*|*_{id}-[0-9]*:[0-9]*{wwn}) ;; *) continue;; esac; \
                 r=$(readlink -f \"$l\"); \
                 if [ \"$r\" = {device} ]; then [ -n \"$dev\" ] || dev=$l; \
                 else why=\"the disk with serial \"{serial}\" is $r, not {device}\"; break; fi; done; \
                 if [ -z \"$why\" ] && [ -z \"$dev\" ]; then why=\"no link in /dev/disk/by-id carries serial \"{serial}\"{wwn_text}: the disk at {device} is not the recorded one, or udev is not running\"; fi; \
                 if [ -z \"$why\" ] && [ ! -b \"$dev\" ]; then why=\"$dev is not a block device\"; fi; \
                 if [ -z \"$why\" ]; then s=$(cat /sys/class/block/{name}/size 2>/dev/null); \
                 if [ \"$s\" != {sectors} ]; then why=\"{device} has $s sectors of 512 bytes, not the recorded {sectors} ({size} bytes)\"; fi; fi; ",
                size = target.size_bytes,
                wwn_text = if target.lunid.is_empty() {
                    String::new()
                } else {
                    format!(" or its WWN {}", target.lunid)
                },
            )
        }
        Os::FreeBsd => format!(
            "why=''; dev={device}; g=$(geom disk list {name} 2>&1) || why=\"geom cannot see {name}: $g\"; \
             if [ -z \"$why\" ]; then id=$(printf '%s\\n' \"$g\" | sed -n 's/^ *ident: *//p' | sed 's/ *$//' | head -n 1); \
             ms=$(printf '%s\\n' \"$g\" | sed -n 's/^ *Mediasize: *\\([0-9]*\\).*/\\1/p' | head -n 1); \
             if [ \"$id\" != {serial} ]; then why=\"{device} reports serial $id, not \"{serial}; \
             elif [ \"$ms\" != {size} ]; then why=\"{device} is $ms bytes, not the recorded {size}\"; fi; fi; ",
            size = target.size_bytes,
        ),
    }
}

pub(super) fn render_start(
    os: Os,
    dir: &JobDir,
    lock: &JobDir,
    target: &Target,
    program: &str,
) -> String {
    let lock_dir = lock.as_str().rsplit_once('/').map_or("/", |(parent, _)| parent);
    let lock_dir = if lock_dir.is_empty() { "/" } else { lock_dir };
    let (locker, detach) = match os {
        // flock(1) from util-linux; -E gives a lock held elsewhere its own exit code.
        Os::Linux => ("flock -n -E 75", "setsid -f"),
        // lockf(1) in FreeBSD's base exits 75 (EX_TEMPFAIL) when -t 0 cannot get the lock;
        // FreeBSD has no setsid(1), and daemon(8) detaches the same way.
        Os::FreeBsd => ("lockf -k -s -t 0", "daemon -f"),
    };
    // The program, once the lock is held: `$1` is the checked path.
    let inner = format!(
        "echo $$ >started.tmp && mv started.tmp started; {program} \"$1\" >{out} 2>{err} </dev/null; \
         echo $? >{code}.tmp; mv {code}.tmp {code}",
        out = files::STDOUT,
        err = files::STDERR,
        code = files::EXIT_CODE,
    );
    // The detached session leader: records its group, takes the lock for the program, and
    // says why if the program never ran.
    let script = format!(
        "echo $$ >group.tmp && mv group.tmp group; {locker} {lock} sh -c {inner} burnin \"$1\"; rc=$?; \
         if [ ! -s started ]; then if [ $rc -eq 75 ]; then m=\"busy the disk's lock {lock} is held: another burn-in is writing to it\"; \
         else m=\"busy the disk's lock could not be taken ({locker} exited $rc)\"; fi; \
         echo \"$m\" >refused.tmp; mv refused.tmp refused; fi",
        lock = quote(lock.as_str()),
        inner = quote(&inner),
    );
    let mut words = vec![
        os_word(os).to_owned(),
        dir.as_str().to_owned(),
        lock.as_str().to_owned(),
        target.device.as_str().to_owned(),
        target.serial.clone(),
        // `-` stands for "no WWN", so the header keeps its shape.
        if target.lunid.is_empty() { "-".to_owned() } else { target.lunid.clone() },
        target.size_bytes.to_string(),
    ];
    words.extend(split_words(program).unwrap_or_default());
    format!(
        "{header}echo 'burnin-start 1'; \
         mkdir -p {lock_dir} {dir} || {{ echo 'error the job folder cannot be made'; exit 71; }}; \
         cd {dir} || {{ echo 'error the job folder cannot be entered'; exit 71; }}; \
         mkdir claim 2>/dev/null || {{ echo claimed; exit 73; }}; \
         {identity}\
         if [ -n \"$why\" ]; then echo \"identity $why\" >refused.tmp; mv refused.tmp refused; echo \"refused identity $why\"; exit 65; fi; \
         printf '%s\\n' {serial} {device} \"$dev\" >target.tmp && mv target.tmp target || {{ echo 'error the target cannot be recorded'; exit 71; }}; \
         {detach} sh -c {script} burnin \"$dev\" </dev/null >/dev/null 2>&1 || {{ echo 'error the job could not be detached'; exit 71; }}; \
         i=0; while [ $i -lt 100 ]; do if [ -s started ] || [ -s refused ]; then break; fi; sleep 0.1; i=$((i+1)); done; \
         if [ -s started ]; then echo \"started $(cat group)\"; exit 0; fi; \
         if [ -s refused ]; then echo \"refused $(cat refused)\"; exit 75; fi; \
         echo unconfirmed; exit 70",
        header = header("start", &words),
        lock_dir = quote(lock_dir),
        dir = quote(dir.as_str()),
        identity = identity_check(os, target),
        serial = quote(&target.serial),
        device = target.device.as_str(),
        script = quote(&script),
    )
}

pub(super) fn render_stop(dir: &JobDir, signal: Signal) -> String {
    format!(
        "{header}echo 'burnin-stop 1'; cd {dir} 2>/dev/null || {{ echo nojob; exit 0; }}; {READ_GROUP}; \
         if [ -z \"$g\" ]; then echo unstarted; exit 0; fi; \
         if kill -s {signal} -- -\"$g\" 2>/dev/null; then echo signalled; else echo gone; fi",
        header = header("stop", &[dir.as_str().to_owned(), signal.as_str().to_owned()]),
        dir = quote(dir.as_str()),
        signal = signal.as_str(),
    )
}

pub(super) fn render_abandon(dir: &JobDir) -> String {
    format!(
        "{header}echo 'burnin-abandon 1'; mkdir -p {dir} && cd {dir} || {{ echo 'error the job folder cannot be made'; exit 71; }}; \
         if mkdir claim 2>/dev/null; then : >claim/abandoned; echo abandoned; else echo claimed; fi",
        header = header("abandon", &[dir.as_str().to_owned()]),
        dir = quote(dir.as_str()),
    )
}

pub(super) fn render_remove(dir: &JobDir) -> String {
    format!(
        "{header}echo 'burnin-remove 1'; cd {dir} 2>/dev/null || {{ echo removed; exit 0; }}; {READ_GROUP}; \
         if [ -n \"$g\" ] && kill -s 0 -- -\"$g\" 2>/dev/null; then echo running; exit 75; fi; \
         cd / && rm -rf -- {dir} && echo removed",
        header = header("remove", &[dir.as_str().to_owned()]),
        dir = quote(dir.as_str()),
    )
}

pub(super) fn render_open_by(os: Os, device: &DevicePath) -> String {
    let header = header("open-by", &[os_word(os).to_owned(), device.as_str().to_owned()]);
    match os {
        Os::Linux => format!(
            "{header}echo 'burnin-open 1'; command -v find >/dev/null 2>&1 || {{ echo 'error find is missing'; exit 127; }}; \
             find /proc/[0-9]*/fd -lname {device} -o -lname {partitions} 2>/dev/null | \
             while IFS= read -r f; do p=${{f#/proc/}}; p=${{p%%/*}}; printf 'open\\t%s\\t%s\\n' \"$p\" \"$(cat /proc/$p/comm 2>/dev/null)\"; done; \
             echo end",
            device = quote(device.as_str()),
            partitions = quote(&partition_glob(device)),
        ),
        Os::FreeBsd => format!(
            "{header}echo 'burnin-open 1'; command -v fstat >/dev/null 2>&1 || {{ echo 'error fstat is missing'; exit 127; }}; \
             fstat {device} 2>/dev/null | tail -n +2 | while read -r u c p rest; do printf 'open\\t%s\\t%s\\n' \"$p\" \"$c\"; done; \
             echo end",
            device = quote(device.as_str()),
        ),
    }
}

pub(super) fn render_burnin_jobs(os: Os, root: &JobDir) -> String {
    format!(
        "{header}echo 'burnin-jobs 1'; for d in {root}/*/; do {{ [ -s \"${{d}}group\" ] || [ -s \"${{d}}pid\" ]; }} || continue; \
         [ -s \"${{d}}exit_code\" ] && continue; g=$(cat \"${{d}}group\" 2>/dev/null || cat \"${{d}}pid\"); \
         kill -s 0 -- -\"$g\" 2>/dev/null || continue; printf 'job\\t%s\\t%s' \"$d\" \"$g\"; \
         if [ -s \"${{d}}target\" ]; then while IFS= read -r t; do printf '\\t%s' \"$t\"; done <\"${{d}}target\"; fi; echo; done; echo end",
        header = header("jobs", &[os_word(os).to_owned(), root.as_str().to_owned()]),
        root = quote(root.as_str()),
    )
}

pub(super) fn render_host_identity(os: Os) -> String {
    // TrueNAS's system.host_id is sha256 of /etc/hostid with surrounding ASCII whitespace
    // stripped (Python's bytes.strip()). SCALE's file is 4 binary bytes, so only python3 (always
    // there: the middleware is Python) reproduces it exactly; sha256sum is right unless an end
    // byte happens to be whitespace. CORE's is a UUID and a newline.
    let digest = match os {
        Os::Linux => {
            "python3 -c 'import hashlib;print(hashlib.sha256(open(\"/etc/hostid\",\"rb\").read().strip()).hexdigest())' 2>/dev/null || sha256sum /etc/hostid | cut -d \" \" -f 1"
        }
        Os::FreeBsd => "tr -d \"\\n\" </etc/hostid | sha256 -q",
    };
    format!(
        "{header}echo 'burnin-host 1'; printf 'hostname\\t%s\\n' \"$(hostname)\"; \
         if [ -r /etc/hostid ]; then printf 'hostid\\t%s\\n' \"$({digest})\"; else echo 'hostid-missing'; fi; echo end",
        header = header("host", &[os_word(os).to_owned()]),
    )
}

pub(super) fn render_resolve(os: Os, paths: &[DevicePath]) -> String {
    let mut words = vec![os_word(os).to_owned()];
    words.extend(paths.iter().map(|p| p.as_str().to_owned()));
    let list: Vec<String> = paths.iter().map(|p| quote(p.as_str())).collect();
    // GNU readlink -f answers a missing path with itself; -e only with paths that exist.
    // FreeBSD's -f is realpath(3), which fails on a missing one.
    let readlink = match os {
        Os::Linux => "readlink -e",
        Os::FreeBsd => "readlink -f",
    };
    format!(
        "{header}echo 'burnin-resolve 1'; for p in {list}; do printf 'path\\t%s\\t%s\\n' \"$p\" \"$({readlink} \"$p\" 2>/dev/null)\"; done; echo end",
        header = header("resolve", &words),
        list = if list.is_empty() { "''".to_owned() } else { list.join(" ") },
    )
}

/// Parses the job commands and compound probes back from their headers.
pub(super) fn parse(line: &str) -> Option<RemoteCommand> {
    let (kind, args) = split_header(line)?;
    let dir = |word: &String| JobDir::new(word.clone()).ok();
    match (kind.as_str(), args.as_slice()) {
        ("start", [os, d, lock, device, serial, lunid, size, program @ ..]) => {
            let device = DevicePath::new(device.clone()).ok()?;
            let lunid = if lunid == "-" { "" } else { lunid.as_str() };
            let target = Target::new(device.clone(), serial, lunid, size.parse().ok()?).ok()?;
            let program = Program::Badblocks(parse_badblocks_options(program, device)?);
            RemoteCommand::start(parse_os(os)?, dir(d)?, dir(lock)?, target, program).ok()
        }
        ("stop", [d, signal]) => {
            Some(RemoteCommand::Stop { dir: dir(d)?, signal: Signal::parse(signal)? })
        }
        ("abandon", [d]) => Some(RemoteCommand::Abandon { dir: dir(d)? }),
        ("remove", [d]) => Some(RemoteCommand::Remove { dir: dir(d)? }),
        ("open-by", [os, device]) => Some(RemoteCommand::Probe {
            os: parse_os(os)?,
            probe: super::Probe::OpenBy(DevicePath::new(device.clone()).ok()?),
        }),
        ("jobs", [os, root]) => Some(RemoteCommand::Probe {
            os: parse_os(os)?,
            probe: super::Probe::BurninJobs(dir(root)?),
        }),
        ("host", [os]) => {
            Some(RemoteCommand::Probe { os: parse_os(os)?, probe: super::Probe::HostIdentity })
        }
        ("resolve", [os, paths @ ..]) => Some(RemoteCommand::Probe {
            os: parse_os(os)?,
            probe: super::Probe::Resolve(
                paths.iter().map(|p| DevicePath::new(p.clone()).ok()).collect::<Option<_>>()?,
            ),
        }),
        _ => None,
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JobReplyError {
    #[error(
        "the NAS's answer to {0} has no `burnin-{0} 1` header: the shell printed something else"
    )]
    NoHeader(&'static str),
    #[error("the NAS's answer to {what} is unreadable: {line:?}")]
    BadLine { what: &'static str, line: String },
}

/// The lines after a `burnin-<what> 1` header, skipping anything a login shell printed first.
fn after_header<'a>(
    output: &'a str,
    what: &'static str,
) -> Result<impl Iterator<Item = &'a str>, JobReplyError> {
    let marker = format!("burnin-{what} 1");
    let mut lines = output.lines();
    lines.by_ref().find(|line| line.trim_end() == marker).ok_or(JobReplyError::NoHeader(what))?;
    Ok(lines)
}

fn first_line<'a>(output: &'a str, what: &'static str) -> Result<&'a str, JobReplyError> {
    after_header(output, what)?
        .next()
        .map(str::trim_end)
        .ok_or(JobReplyError::BadLine { what, line: String::new() })
}

/// How a start went, as the NAS answered it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StartReport {
    /// The lock is held and the program runs in this process group.
    Started { group: u32 },
    /// The folder was claimed before: by an earlier start or an abandon. Nothing new ran.
    Claimed,
    /// The program did not run: the identity check failed, or the disk's lock is held.
    Refused { identity: bool, reason: String },
    /// The job was detached but did not confirm within the wait; its folder tells later.
    Unconfirmed,
    /// The folder could not be prepared; nothing was started.
    Error { reason: String },
}

impl StartReport {
    pub fn parse(output: &[u8]) -> Result<StartReport, JobReplyError> {
        let text = String::from_utf8_lossy(output);
        let line = first_line(&text, "start")?;
        let bad = || JobReplyError::BadLine { what: "start", line: line.to_owned() };
        Ok(match line.split_once(' ') {
            Some(("started", group)) => {
                StartReport::Started { group: group.trim().parse().map_err(|_| bad())? }
            }
            Some(("refused", reason)) => {
                let (identity, reason) = match reason.split_once(' ') {
                    Some(("identity", rest)) => (true, rest),
                    Some(("busy", rest)) => (false, rest),
                    _ => (false, reason),
                };
                StartReport::Refused { identity, reason: reason.to_owned() }
            }
            Some(("error", reason)) => StartReport::Error { reason: reason.to_owned() },
            None if line == "claimed" => StartReport::Claimed,
            None if line == "unconfirmed" => StartReport::Unconfirmed,
            _ => return Err(bad()),
        })
    }
}

/// The answer the simulator gives to a start, with the exit code a shell would give.
pub fn render_start_report(report: &StartReport) -> (Vec<u8>, u32) {
    let (line, code) = match report {
        StartReport::Started { group } => (format!("started {group}"), 0),
        StartReport::Claimed => ("claimed".to_owned(), exit_codes::CLAIMED),
        StartReport::Refused { identity: true, reason } => {
            (format!("refused identity {reason}"), exit_codes::IDENTITY)
        }
        StartReport::Refused { identity: false, reason } => {
            (format!("refused busy {reason}"), exit_codes::BUSY)
        }
        StartReport::Unconfirmed => ("unconfirmed".to_owned(), exit_codes::UNCONFIRMED),
        StartReport::Error { reason } => (format!("error {reason}"), exit_codes::CANNOT_WRITE),
    };
    (format!("burnin-start 1\n{line}\n").into_bytes(), code)
}

/// What a stop found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReport {
    /// The signal went to the job's process group.
    Signalled,
    /// No process of the group is left.
    Gone,
    /// The folder has no group: nothing was started there (or not yet).
    Unstarted,
    NoJob,
}

impl StopReport {
    pub fn parse(output: &[u8]) -> Result<StopReport, JobReplyError> {
        let text = String::from_utf8_lossy(output);
        let line = first_line(&text, "stop")?;
        Ok(match line {
            "signalled" => StopReport::Signalled,
            "gone" => StopReport::Gone,
            "unstarted" => StopReport::Unstarted,
            "nojob" => StopReport::NoJob,
            _ => return Err(JobReplyError::BadLine { what: "stop", line: line.to_owned() }),
        })
    }
}

pub fn render_stop_report(report: StopReport) -> Vec<u8> {
    let line = match report {
        StopReport::Signalled => "signalled",
        StopReport::Gone => "gone",
        StopReport::Unstarted => "unstarted",
        StopReport::NoJob => "nojob",
    };
    format!("burnin-stop 1\n{line}\n").into_bytes()
}

/// What an abandon found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AbandonReport {
    /// The folder is now claimed by the abandon: no start can ever run there.
    Abandoned,
    /// A start claimed it first: follow the job, it may be running.
    Claimed,
    Error {
        reason: String,
    },
}

impl AbandonReport {
    pub fn parse(output: &[u8]) -> Result<AbandonReport, JobReplyError> {
        let text = String::from_utf8_lossy(output);
        let line = first_line(&text, "abandon")?;
        Ok(match line.split_once(' ') {
            Some(("error", reason)) => AbandonReport::Error { reason: reason.to_owned() },
            None if line == "abandoned" => AbandonReport::Abandoned,
            None if line == "claimed" => AbandonReport::Claimed,
            _ => return Err(JobReplyError::BadLine { what: "abandon", line: line.to_owned() }),
        })
    }
}

pub fn render_abandon_report(report: &AbandonReport) -> Vec<u8> {
    let line = match report {
        AbandonReport::Abandoned => "abandoned".to_owned(),
        AbandonReport::Claimed => "claimed".to_owned(),
        AbandonReport::Error { reason } => format!("error {reason}"),
    };
    format!("burnin-abandon 1\n{line}\n").into_bytes()
}

/// What a remove found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RemoveReport {
    Removed,
    /// A process of the job lives: the folder (and its logs) stay.
    Running,
}

impl RemoveReport {
    pub fn parse(output: &[u8]) -> Result<RemoveReport, JobReplyError> {
        let text = String::from_utf8_lossy(output);
        let line = first_line(&text, "remove")?;
        Ok(match line {
            "removed" => RemoveReport::Removed,
            "running" => RemoveReport::Running,
            _ => return Err(JobReplyError::BadLine { what: "remove", line: line.to_owned() }),
        })
    }
}

pub fn render_remove_report(report: RemoveReport) -> (Vec<u8>, u32) {
    match report {
        RemoveReport::Removed => (b"burnin-remove 1\nremoved\n".to_vec(), 0),
        RemoveReport::Running => (b"burnin-remove 1\nrunning\n".to_vec(), exit_codes::BUSY),
    }
}
