//! Polling a detached job: its state, and its logs read by offset.
//!
//! The answer is a small framed text so it survives any shell: a header of `key value` lines,
//! then each log chunk as `--stdout <n>` / `--stderr <n>` followed by exactly `n` bytes.
//! `wc`, `tail -c +N` and `head -c N` behave the same on GNU (SCALE) and FreeBSD (CORE).

use super::{JobDir, files, quote};

/// What the job's files say about its processes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobState {
    /// A process of the job's group is alive (`pid` is the group's id).
    Running { pid: u32 },
    /// The program finished with this exit code.
    Exited { code: i32 },
    /// The program never ran: the identity check or the disk's lock refused it.
    Refused { reason: String },
    /// No exit code, and no process of the group is alive: killed (reboot, OOM, kill -9, a
    /// stop) before it could record how it ended.
    Gone,
    /// The folder exists but no job was detached in it (yet): a start may still be on its way.
    Unstarted,
    /// The folder was claimed by an abandon: no start can run there.
    Abandoned,
    /// The job directory does not exist.
    NoJob,
}

impl JobState {
    /// Whether a process of the job may be alive (and writing).
    pub fn may_be_alive(&self) -> bool {
        matches!(self, JobState::Running { .. } | JobState::Unstarted | JobState::NoJob)
    }
}

/// A parsed poll answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PollReport {
    pub state: JobState,
    pub stdout_size: u64,
    pub stderr_size: u64,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PollParseError {
    #[error(
        "the poll answer does not start with `burnin-poll 1`; the NAS's shell may have printed something else first"
    )]
    NoHeader,
    #[error("the poll answer has an unreadable line: {0:?}")]
    BadLine(String),
    #[error("the poll answer is cut short")]
    Truncated,
}

pub(super) fn render(
    dir: &JobDir,
    stdout_offset: u64,
    stderr_offset: u64,
    max_bytes: u64,
) -> String {
    let chunk = |name: &str, file: &str, offset: u64| {
        format!(
            "s=$(wc -c 2>/dev/null <{file} || echo 0); s=$((s+0)); n=$((s-{offset})); \
             [ $n -lt 0 ] && n=0; [ $n -gt {max_bytes} ] && n={max_bytes}; \
             echo \"--{name} $n\"; tail -c +{start} {file} 2>/dev/null | head -c $n",
            start = offset + 1
        )
    };
    format!(
        "cd {dir} 2>/dev/null || {{ echo 'burnin-poll 1'; echo 'state nojob'; exit 0; }}; \
         echo 'burnin-poll 1'; g=$(cat {group} 2>/dev/null || cat {legacy} 2>/dev/null); \
         if [ -s {code} ]; then echo \"state exited $(cat {code})\"; \
         elif [ -s {refused} ]; then echo \"state refused $(head -n 1 {refused})\"; \
         elif [ -n \"$g\" ] && kill -s 0 -- -\"$g\" 2>/dev/null; then echo \"state running $g\"; \
         elif [ -n \"$g\" ]; then echo 'state gone'; \
         elif [ -e {abandoned} ]; then echo 'state abandoned'; \
         else echo 'state unstarted'; fi; \
         echo \"stdout $(($(wc -c 2>/dev/null <{out} || echo 0)+0))\"; \
         echo \"stderr $(($(wc -c 2>/dev/null <{err} || echo 0)+0))\"; {stdout}; {stderr}",
        dir = quote(dir.as_str()),
        group = files::GROUP,
        legacy = files::LEGACY_PID,
        refused = files::REFUSED,
        abandoned = files::ABANDONED,
        code = files::EXIT_CODE,
        out = files::STDOUT,
        err = files::STDERR,
        stdout = chunk("stdout", files::STDOUT, stdout_offset),
        stderr = chunk("stderr", files::STDERR, stderr_offset),
    )
}

pub(super) fn parse(line: &str) -> Option<super::RemoteCommand> {
    let dir = super::split_words(line.strip_prefix("cd ")?.split(" 2>/dev/null").next()?)?;
    let dir = JobDir::new(dir.first()?.clone()).ok()?;
    let number_after = |marker: &str| -> Option<u64> {
        let start = line.find(marker)? + marker.len();
        let digits: String = line[start..].chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    let stdout_offset = number_after("n=$((s-")?;
    let rest = &line[line.find("--stdout")?..];
    let stderr_offset = rest.find("n=$((s-").and_then(|at| {
        let digits: String = rest[at + 7..].chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    })?;
    let max_bytes = number_after("[ $n -gt ")?;
    Some(super::RemoteCommand::Poll { dir, stdout_offset, stderr_offset, max_bytes })
}

impl PollReport {
    /// Parses the answer of a [`super::RemoteCommand::Poll`].
    pub fn parse(output: &[u8]) -> Result<PollReport, PollParseError> {
        let mut rest = output;
        let mut next_line = |rest: &mut &[u8]| -> Option<String> {
            let end = rest.iter().position(|&b| b == b'\n')?;
            let line = String::from_utf8_lossy(&rest[..end]).into_owned();
            *rest = &rest[end + 1..];
            Some(line)
        };
        // Login shells on some NASes print a banner; skip to our header.
        loop {
            match next_line(&mut rest) {
                Some(line) if line == "burnin-poll 1" => break,
                Some(_) => continue,
                None => return Err(PollParseError::NoHeader),
            }
        }
        let state_line = next_line(&mut rest).ok_or(PollParseError::Truncated)?;
        let state = parse_state(&state_line)?;
        let no_job = matches!(state, JobState::NoJob);
        let mut report = PollReport {
            state,
            stdout_size: 0,
            stderr_size: 0,
            stdout: Vec::new(),
            stderr: Vec::new(),
        };
        if no_job {
            return Ok(report);
        }
        report.stdout_size = size_line(next_line(&mut rest), "stdout")?;
        report.stderr_size = size_line(next_line(&mut rest), "stderr")?;
        report.stdout = chunk(&mut rest, &mut next_line, "--stdout")?;
        report.stderr = chunk(&mut rest, &mut next_line, "--stderr")?;
        Ok(report)
    }
}

fn parse_state(line: &str) -> Result<JobState, PollParseError> {
    let bad = || PollParseError::BadLine(line.to_owned());
    let Some(rest) = line.strip_prefix("state ") else { return Err(bad()) };
    if let Some(reason) = rest.strip_prefix("refused ") {
        return Ok(JobState::Refused { reason: reason.trim_end().to_owned() });
    }
    let mut words = rest.split_whitespace();
    match (words.next(), words.next()) {
        (Some("running"), Some(pid)) => {
            Ok(JobState::Running { pid: pid.parse().map_err(|_| bad())? })
        }
        (Some("exited"), Some(code)) => {
            Ok(JobState::Exited { code: code.parse().map_err(|_| bad())? })
        }
        (Some("gone"), None) => Ok(JobState::Gone),
        (Some("unstarted"), None) => Ok(JobState::Unstarted),
        (Some("abandoned"), None) => Ok(JobState::Abandoned),
        (Some("nojob"), None) => Ok(JobState::NoJob),
        _ => Err(bad()),
    }
}

fn size_line(line: Option<String>, key: &str) -> Result<u64, PollParseError> {
    let line = line.ok_or(PollParseError::Truncated)?;
    line.strip_prefix(key)
        .and_then(|rest| rest.trim().parse().ok())
        .ok_or(PollParseError::BadLine(line))
}

fn chunk(
    rest: &mut &[u8],
    next_line: &mut impl FnMut(&mut &[u8]) -> Option<String>,
    marker: &str,
) -> Result<Vec<u8>, PollParseError> {
    let line = next_line(rest).ok_or(PollParseError::Truncated)?;
    let count: usize = line
        .strip_prefix(marker)
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| PollParseError::BadLine(line.clone()))?;
    if rest.len() < count {
        return Err(PollParseError::Truncated);
    }
    let bytes = rest[..count].to_vec();
    *rest = &rest[count..];
    Ok(bytes)
}

/// Renders the answer a NAS gives to a poll; the simulator answers with this.
pub fn render_report(report: &PollReport) -> Vec<u8> {
    let mut out = b"burnin-poll 1\n".to_vec();
    let state = match &report.state {
        JobState::Running { pid } => format!("state running {pid}\n"),
        JobState::Exited { code } => format!("state exited {code}\n"),
        JobState::Refused { reason } => format!("state refused {reason}\n"),
        JobState::Gone => "state gone\n".to_owned(),
        JobState::Unstarted => "state unstarted\n".to_owned(),
        JobState::Abandoned => "state abandoned\n".to_owned(),
        JobState::NoJob => {
            out.extend_from_slice(b"state nojob\n");
            return out;
        }
    };
    out.extend_from_slice(state.as_bytes());
    out.extend_from_slice(
        format!("stdout {}\nstderr {}\n", report.stdout_size, report.stderr_size).as_bytes(),
    );
    out.extend_from_slice(format!("--stdout {}\n", report.stdout.len()).as_bytes());
    out.extend_from_slice(&report.stdout);
    out.extend_from_slice(format!("--stderr {}\n", report.stderr.len()).as_bytes());
    out.extend_from_slice(&report.stderr);
    out
}
